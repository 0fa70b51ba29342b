#include "tapegrad/handles.hpp"

#include <mutex>
#include <vector>

#include "tapegrad/error.hpp"

namespace tapegrad::detail {

namespace {
// The first chunk is static, so that slot 0, which undefined handles name, can always be read
// (its stamp, 1, never matches theirs, 0), even before any tape or parameter exists.
HandleSlot g_first_chunk[std::size_t(1) << kSlotChunkBits];
}  // namespace
std::atomic<HandleSlot*> g_slot_chunks[kSlotChunks] = {g_first_chunk};

namespace {
constexpr std::uint32_t kSlotsPerChunk = 1u << kSlotChunkBits;
std::mutex g_slot_mutex;
std::vector<std::uint32_t> g_free_slots;
std::uint32_t g_next_slot = 1;  // slot 0 is never handed out: it is the undefined handle's
}  // namespace

std::uint32_t acquire_slot(void* target) {
  std::lock_guard<std::mutex> lock(g_slot_mutex);
  std::uint32_t i;
  if (!g_free_slots.empty()) {
    i = g_free_slots.back();
    g_free_slots.pop_back();
  } else {
    TG_CHECK(StateError, g_next_slot / kSlotsPerChunk < kSlotChunks, "too many live tapes and parameters (",
             g_next_slot, ")");
    i = g_next_slot++;
    g_free_slots.reserve(g_next_slot);  // so that release_slot, which is noexcept, never allocates
    std::atomic<HandleSlot*>& chunk = g_slot_chunks[i / kSlotsPerChunk];
    // Chunks are never freed: a handle may read its slot at any time, even after its owner died.
    if (chunk.load(std::memory_order_relaxed) == nullptr) chunk.store(new HandleSlot[kSlotsPerChunk]);
  }
  HandleSlot& s = handle_slot(i);
  s.born.store(s.stamp.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s.target.store(target, std::memory_order_relaxed);
  return i;
}

void release_slot(std::uint32_t i) noexcept {
  bump_stamp(i);
  handle_slot(i).target.store(nullptr, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(g_slot_mutex);
  g_free_slots.push_back(i);  // within the capacity reserved by acquire_slot
}

}  // namespace tapegrad::detail
