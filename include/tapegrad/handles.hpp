#pragma once
/// The table behind every handle (Var, Parameter): how a handle knows, in two loads and a
/// compare, whether what it names is still alive. Used by the tape layer; no autograd here.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tapegrad::detail {

/// Handles do not point at what they name: they name a slot of this process-wide table, which
/// points at the tape or parameter and holds its current stamp. A slot lives in a chunk that is
/// never freed, so reading it is always safe; clearing a tape, or destroying a tape or a
/// parameter, bumps the stamp, and every handle made before then no longer matches. A slot
/// freed by one owner continues its stamps for the next, so no old handle can ever match again
/// (64-bit stamps do not wrap). Checking a handle is two loads and a compare; nothing is
/// reference-counted per op.
struct HandleSlot {
  std::atomic<void*> target{nullptr};
  std::atomic<std::uint64_t> stamp{1};
  std::atomic<std::uint64_t> born{1};  // the stamp when the current owner took the slot
};
inline constexpr unsigned kSlotChunkBits = 10;
inline constexpr std::size_t kSlotChunks = std::size_t(1) << 16;  // up to 2^26 live tapes + parameters
extern std::atomic<HandleSlot*> g_slot_chunks[kSlotChunks];
inline HandleSlot& handle_slot(std::uint32_t i) noexcept {
  return g_slot_chunks[i >> kSlotChunkBits].load(std::memory_order_relaxed)[i & ((1u << kSlotChunkBits) - 1)];
}
/// Takes a free slot pointing at `target`; its current stamp is `handle_slot(i).stamp`.
std::uint32_t acquire_slot(void* target);
/// Invalidates every handle to the slot and frees it.
void release_slot(std::uint32_t i) noexcept;
/// Invalidates every handle to the slot, which stays with its owner (Tape::clear).
inline std::uint64_t bump_stamp(std::uint32_t i) noexcept {
  return handle_slot(i).stamp.fetch_add(1, std::memory_order_relaxed) + 1;
}
}  // namespace tapegrad::detail
