#include "tapegrad/dist/environment.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "dist/internal.hpp"

namespace tapegrad::dist {

namespace detail {

void check_mpi(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = std::snprintf(text, sizeof text, "error %d", rc);
  throw MpiError(::tapegrad::detail::concat(call, " failed: ", std::string(text, std::size_t(len))));
}

[[noreturn]] void throw_kind(ErrorKind kind, const std::string& message) {
  switch (kind) {
    case ErrorKind::value:
      throw ValueError(message);
    case ErrorKind::shape:
      throw ShapeError(message);
    case ErrorKind::state:
      throw StateError(message);
    case ErrorKind::io:
      throw IoError(message);
    case ErrorKind::mismatch:
      throw MismatchError(message);
    case ErrorKind::mpi:
      throw MpiError(message);
    case ErrorKind::none:
    case ErrorKind::error:
      break;
  }
  throw Error(message);
}

void raise_if_any(const Environment& env, ErrorKind kind, const std::string& message) {
  const int w = env.world_size();
  int first = kind == ErrorKind::none ? w : env.rank();
  TG_MPI(MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, env.comm()));
  if (first == w) return;
  int head[2] = {int(kind), int(message.size())};
  TG_MPI(MPI_Bcast(head, 2, MPI_INT, first, env.comm()));
  std::string text = env.rank() == first ? message : std::string(std::size_t(head[1]), '\0');
  TG_MPI(MPI_Bcast(text.data(), head[1], MPI_CHAR, first, env.comm()));
  if (w > 1) text = ::tapegrad::detail::concat("rank ", first, ": ", text);
  throw_kind(ErrorKind(head[0]), text);
}

void on_root(const Environment& env, int root, const std::function<void()>& fn) {
  ErrorKind kind = ErrorKind::none;
  std::string message;
  if (env.rank() == root) {
    try {
      fn();
    } catch (const MismatchError& e) {
      kind = ErrorKind::mismatch, message = e.what();
    } catch (const ValueError& e) {
      kind = ErrorKind::value, message = e.what();
    } catch (const ShapeError& e) {
      kind = ErrorKind::shape, message = e.what();
    } catch (const StateError& e) {
      kind = ErrorKind::state, message = e.what();
    } catch (const IoError& e) {
      kind = ErrorKind::io, message = e.what();
    } catch (const MpiError& e) {
      kind = ErrorKind::mpi, message = e.what();
    } catch (const std::exception& e) {
      kind = ErrorKind::error, message = e.what();
    }
  }
  raise_if_any(env, kind, message);
}

}  // namespace detail

Environment::Environment(int& argc, char**& argv) : uncaught_(std::uncaught_exceptions()) {
  int initialized = 0, finalized = 0;
  TG_MPI(MPI_Initialized(&initialized));
  TG_MPI(MPI_Finalized(&finalized));
  TG_CHECK(StateError, !finalized, "dist::Environment: MPI was already finalised; it cannot start again");
  TG_CHECK(StateError, !initialized,
           "dist::Environment: MPI is already initialised: attach to its communicator with Environment(MPI_Comm)");
  int provided = 0;
  TG_MPI(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided));
  owns_mpi_ = true;
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw MpiError("dist::Environment: MPI provides thread level " + std::to_string(provided) +
                   ", below MPI_THREAD_FUNNELED");
  }
  attach(MPI_COMM_WORLD);
}

Environment::Environment(MPI_Comm comm) : uncaught_(std::uncaught_exceptions()) {
  int initialized = 0, finalized = 0;
  TG_MPI(MPI_Initialized(&initialized));
  TG_MPI(MPI_Finalized(&finalized));
  TG_CHECK(StateError, initialized && !finalized,
           "dist::Environment(MPI_Comm): MPI is not running: initialise it first, or use Environment(argc, argv)");
  TG_CHECK(ValueError, comm != MPI_COMM_NULL, "dist::Environment(MPI_Comm): the communicator is MPI_COMM_NULL");
  attach(comm);
}

void Environment::attach(MPI_Comm comm) {
  TG_MPI(MPI_Comm_dup(comm, &comm_));
  TG_MPI(MPI_Comm_rank(comm_, &rank_));
  TG_MPI(MPI_Comm_size(comm_, &size_));
  MPI_Comm local = MPI_COMM_NULL;
  TG_MPI(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local));
  TG_MPI(MPI_Comm_rank(local, &local_rank_));
  TG_MPI(MPI_Comm_size(local, &local_size_));
  TG_MPI(MPI_Comm_free(&local));
}

Environment::~Environment() {
  if (std::uncaught_exceptions() > uncaught_) {
    // Destroyed by an exception: other ranks may be waiting in a collective this one will never
    // join, and MPI_Finalize would wait for them (Open MPI's synchronises every rank). Leave MPI
    // running: the process exits without finalising, and mpirun ends the whole job.
    return;
  }
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  if (owns_mpi_) MPI_Finalize();
}

void Environment::barrier() const { TG_MPI(MPI_Barrier(comm_)); }

void Environment::abort(const std::string& message, int code) const noexcept {
  std::fprintf(stderr, "tapegrad: rank %d of %d: %s\n", rank_, size_, message.c_str());
  std::fflush(stderr);
  MPI_Abort(comm_ != MPI_COMM_NULL ? comm_ : MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return; should it, end this process at least
}

}  // namespace tapegrad::dist
