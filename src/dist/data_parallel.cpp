#include "tapegrad/dist/data_parallel.hpp"

#include <algorithm>
#include <cstring>

#include "dist/internal.hpp"
#include "tapegrad/dist/parameters.hpp"
#include "tapegrad/kernels.hpp"

namespace tapegrad::dist {

namespace {

bool power_of_two(std::size_t n) { return n > 0 && (n & (n - 1)) == 0; }

// While alive, tapegrad computes on one thread (products are never cut), and the previous count
// is restored after. Changing the count starts or stops worker threads, so it is done only when
// needed: at one thread already, this costs nothing.
class OneThread {
 public:
  OneThread() : saved_(num_threads()) {
    if (saved_ != 1) set_num_threads(1);
  }
  ~OneThread() {
    if (saved_ != 1) set_num_threads(saved_);
  }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int saved_;
};

// Rows `first`, first + stride, ... (< rows) of `from` (rows × row elements) into `to`.
template <class T>
void gather_rows(const Array<T>& from, std::size_t rows, std::size_t first, std::size_t stride, Array<T>& to,
                 std::size_t count) {
  Shape shape = from.shape();
  shape[0] = count;
  if (to.shape() != shape) to.resize(shape);
  const std::size_t row = rows == 0 ? 0 : from.size() / rows;
  T* out = to.data();
  for (std::size_t i = first; i < rows; i += stride, out += row) std::memcpy(out, from.data() + i * row, row * sizeof(T));
}

}  // namespace

template <class T>
DataParallel<T>::DataParallel(const Environment& env, nn::Module<T>& module, const DataParallelOptions& options)
    : env_(env),
      module_(module),
      options_(options),
      params_(module.parameters()),
      reducer_(env, module, ReducerOptions().bucket_bytes(options.bucket_bytes())) {
  const auto w = std::size_t(env.world_size());
  if (options_.deterministic()) {
    TG_CHECK(ValueError, power_of_two(w) && options_.chunks() % w == 0,
             "DataParallel: deterministic mode needs a world size that is a power of two and divides the ",
             options_.chunks(), " chunks of a global batch; the world size is ", w);
    const std::size_t local = options_.chunks() / w;
    std::size_t total = reducer_.num_elements();
    leaves_.assign(local, std::vector<T>(total, T(0)));
    leaf_has_grad_.assign(local * params_.size(), 0);
    leaf_rows_.assign(local, 0);
    received_.assign(total, T(0));
    meta_.assign(w + params_.size(), 0);
  }
  broadcast_parameters(env, module);
}

template <class T>
StepStats DataParallel<T>::run(Tape<T>& tape, data::Batch<T>& batch, LossRef loss) {
  if (options_.deterministic()) return run_deterministic(tape, batch, loss);
  StepStats stats;
  stats.examples = batch.size();
  module_.zero_grad();
  if (stats.examples > 0) {
    const Var<T> l = loss.call(loss.fn, tape, batch);
    stats.loss_sum = double(l.item()) * double(stats.examples);
    tape.backward(l);
  }
  stats.global_examples = reducer_.average(stats.examples);
  return stats;
}

// Sums leaves a, a + m, a + 2m, ... (< Q) into leaf a: the node (a, m) of the residue tree,
// whose children are (a, 2m) and (a + m, 2m).
template <class T>
void DataParallel<T>::tree_sum(std::size_t a, std::size_t m) {
  const std::size_t q = leaves_.size();
  if (a + m >= q) return;  // a single leaf
  tree_sum(a, 2 * m);
  tree_sum(a + m, 2 * m);
  T* lo = leaves_[a].data();
  const T* hi = leaves_[a + m].data();
  const std::size_t n = leaves_[a].size();
  for (std::size_t k = 0; k < n; ++k) lo[k] = lo[k] + hi[k];
}

template <class T>
StepStats DataParallel<T>::run_deterministic(Tape<T>& tape, data::Batch<T>& batch, LossRef loss) {
  const std::size_t w = std::size_t(env_.world_size()), r = std::size_t(env_.rank());
  const std::size_t q_count = leaves_.size(), n_params = params_.size();
  const std::size_t rows = batch.size();
  StepStats stats;
  stats.examples = rows;

  // 1. Each local chunk's gradient alone, on one thread: chunk q holds local rows q, q + Q, ...,
  //    i.e. global positions (r + W q) + C t.
  {
    const OneThread one_thread;
    for (std::size_t q = 0; q < q_count; ++q) {
      const std::size_t count = q < rows ? (rows - q + q_count - 1) / q_count : 0;
      leaf_rows_[q] = count;
      module_.zero_grad();
      std::vector<T>& leaf = leaves_[q];
      unsigned char* flags = leaf_has_grad_.data() + q * n_params;
      std::fill(flags, flags + n_params, 0);
      if (count > 0) {
        gather_rows(batch.features, rows, q, q_count, chunk_.features, count);
        gather_rows(batch.targets, rows, q, q_count, chunk_.targets, count);
        chunk_.count = count;
        const Var<T> l = loss.call(loss.fn, tape, chunk_);
        stats.loss_sum += double(l.item()) * double(count);
        tape.backward(l);
      }
      std::size_t at = 0;
      for (std::size_t i = 0; i < n_params; ++i) {
        const std::size_t size = params_[i].value().size();
        if (count > 0 && detail::grad_is_set(params_[i])) {
          flags[i] = 1;
          const T* g = detail::read_grad(params_[i]).data();
          std::copy(g, g + size, leaf.data() + at);
        } else {
          std::fill(leaf.data() + at, leaf.data() + at + size, T(0));
        }
        at += size;
      }
      TG_CHECK(ShapeError, at == leaf.size(), "DataParallel: the parameters now have ", at, " elements, not the ",
               leaf.size(), " they had when it was made");
    }
  }

  // 2. Every rank's example count and which parameters have a gradient somewhere.
  std::fill(meta_.begin(), meta_.end(), 0);
  meta_[r] = std::int64_t(rows);
  for (std::size_t q = 0; q < q_count; ++q) {
    for (std::size_t i = 0; i < n_params; ++i) meta_[w + i] |= leaf_has_grad_[q * n_params + i];
  }
  TG_MPI(MPI_Allreduce(MPI_IN_PLACE, meta_.data(), int(meta_.size()), MPI_INT64_T, MPI_SUM, env_.comm()));
  std::size_t total = 0;
  for (std::size_t k = 0; k < w; ++k) total += std::size_t(meta_[k]);
  stats.global_examples = total;
  // The chunks are fixed only if rank k holds global positions k, k + W, ...: its share is
  // total / W, plus one for the first total mod W ranks. Every rank checks every rank alike.
  for (std::size_t k = 0; k < w; ++k) {
    const std::size_t want = total / w + (k < total % w ? 1 : 0);
    TG_CHECK(ValueError, std::size_t(meta_[k]) == want, "DataParallel (deterministic): rank ", k, " has ", meta_[k],
             " examples of a global batch of ", total, " over ", w,
             " ranks, not its interleaved share of ", want,
             ": feed every rank its part of the global batch through a DistributedSampler");
  }
  module_.zero_grad();
  if (total == 0) return stats;

  // 3. Weight each chunk by its share of the global batch, sum the local chunks in the residue
  //    tree, then combine the ranks' subtrees: at step m = W/2, ..., 1 rank r and rank r ^ m hold
  //    the residues r mod 2m and (r ^ m) mod 2m, and both compute their sum, lower residue first.
  for (std::size_t q = 0; q < q_count; ++q) {
    const T weight = T(double(leaf_rows_[q]) / double(total));
    for (T& v : leaves_[q]) v *= weight;
  }
  tree_sum(0, 1);
  T* mine = leaves_[0].data();
  const std::size_t n = leaves_[0].size();
  constexpr std::size_t kMax = std::size_t(1) << 30;
  for (std::size_t m = w / 2; m >= 1; m /= 2) {
    const int partner = int(r ^ m);
    for (std::size_t done = 0; done < n; done += kMax) {
      const int count = int(std::min(kMax, n - done));
      TG_MPI(MPI_Sendrecv(mine + done, count, detail::mpi_type<T>(), partner, 0, received_.data() + done, count,
                          detail::mpi_type<T>(), partner, 0, env_.comm(), MPI_STATUS_IGNORE));
    }
    const bool lower = (r & m) == 0;
    for (std::size_t k = 0; k < n; ++k) mine[k] = lower ? mine[k] + received_[k] : received_[k] + mine[k];
  }

  // 4. The global gradient into every parameter that has one somewhere.
  std::size_t at = 0;
  for (std::size_t i = 0; i < n_params; ++i) {
    const std::size_t size = params_[i].value().size();
    if (meta_[w + i] > 0) std::copy(mine + at, mine + at + size, detail::write_grad(params_[i]).data());
    at += size;
  }
  return stats;
}

template class DataParallel<float>;
template class DataParallel<double>;

}  // namespace tapegrad::dist
