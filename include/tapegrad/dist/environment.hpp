#pragma once
/// Layer 8 (component tapegrad::mpi): the MPI job a data-parallel training runs in. tapegrad
/// invents no transport: it runs on MPI (Open MPI on Debian), and this is the only class that
/// starts or stops it.
///
///     int main(int argc, char** argv) {
///       tapegrad::dist::Environment env(argc, argv);     // MPI_Init_thread ... MPI_Finalize
///       try {
///         train(env);                                  // print only if env.is_root()
///       } catch (const std::exception& e) {
///         env.abort(e.what());   // prints "rank r of W: <message>", ends every rank now
///       }
///     }
///
/// Run with `mpirun -np 4 ./train`. Errors: an exception on one rank while the others wait in a
/// collective must end the whole job, not hang it. `abort()` does that explicitly; and when an
/// Environment is destroyed by an exception unwinding the stack, it skips MPI_Finalize (which
/// would wait for every rank), so the process exits unfinalized and mpirun ends the job.
#include <mpi.h>

#include <string>

#include "tapegrad/error.hpp"

namespace tapegrad::dist {

/// An MPI call failed; the message names the call and MPI's own error string.
class MpiError : public Error {
 public:
  using Error::Error;
};

/// Ranks disagree about something that must be the same on all of them (the model's
/// architecture, the dataset's size, ...). Thrown on every rank alike, naming the first
/// difference, so that no rank goes on alone.
class MismatchError : public ValueError {
 public:
  using ValueError::ValueError;
};

/// The MPI environment: a communicator and this process's place in it.
///
/// Not copyable. Every rank must create it, in the same order relative to other collective
/// calls. Only the thread that created it may call MPI through tapegrad (MPI_THREAD_FUNNELED);
/// tapegrad's worker threads never call MPI.
class Environment {
 public:
  /// Initialises MPI (MPI_Init_thread, asking for MPI_THREAD_FUNNELED) and works on a duplicate
  /// of MPI_COMM_WORLD; the destructor finalises MPI. Throws StateError if MPI is already
  /// initialised (attach with `Environment(MPI_Comm)` instead) or was finalised, and MpiError if
  /// MPI cannot give MPI_THREAD_FUNNELED.
  Environment(int& argc, char**& argv);
  /// Attaches to a communicator of an application that runs MPI itself: MPI must already be
  /// initialised. Works on a duplicate of `comm` (so tapegrad's collectives never mix with the
  /// application's messages), frees it in the destructor, and never finalises MPI.
  explicit Environment(MPI_Comm comm);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  /// This process's rank in [0, world_size()).
  int rank() const noexcept { return rank_; }
  /// Number of processes.
  int world_size() const noexcept { return size_; }
  /// True on rank 0, the one that prints and writes checkpoints.
  bool is_root() const noexcept { return rank_ == 0; }
  /// This process's rank among the processes on its machine, and their number
  /// (MPI_Comm_split_type, MPI_COMM_TYPE_SHARED): e.g. to give each process cores / local_size()
  /// threads.
  int local_rank() const noexcept { return local_rank_; }
  int local_size() const noexcept { return local_size_; }
  /// The communicator tapegrad works on (a duplicate, private to tapegrad).
  MPI_Comm comm() const noexcept { return comm_; }
  /// True when this Environment initialised MPI (and will finalise it).
  bool owns_mpi() const noexcept { return owns_mpi_; }

  /// Waits until every rank has called it.
  void barrier() const;
  /// Writes "tapegrad: rank r of W: <message>" to stderr and ends every process of the job
  /// (MPI_Abort with `code`). For a failure on one rank while others may be waiting in a
  /// collective: the job ends at once with this rank's message instead of hanging. The one
  /// place tapegrad prints, and only when called.
  [[noreturn]] void abort(const std::string& message, int code = 1) const noexcept;

 private:
  void attach(MPI_Comm comm);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool owns_mpi_ = false;
  int uncaught_ = 0;  // std::uncaught_exceptions() at construction
};

}  // namespace tapegrad::dist
