// Sequence state in pages (state.h): the page pool, its prefix cache, and page tables.
#include "state.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

namespace attnode {
namespace {

// Pages returned to the pool and kept mapped for the next take(): enough for a burst of forks
// or a beam step; the rest go back to the system at once.
constexpr size_t kKeepFree = 16;

// Host pages: anonymous mappings, so a page's memory goes back to the system when freed.
class HostPageMemory : public PageMemory {
 public:
  char* allocate(size_t bytes) override {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<char*>(p);
  }
  void free(char* p, size_t bytes) noexcept override { munmap(p, bytes); }
  void copy(char* dst, const char* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
};

// FNV-1a over the block's ids, chained from the parent's key; 0 is kept for "no parent".
uint64_t block_key(uint64_t parent, const int32_t* ids, size_t n) {
  uint64_t h = parent ^ 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    uint32_t x = static_cast<uint32_t>(ids[i]);
    for (int b = 0; b < 4; ++b, x >>= 8) {
      h ^= x & 0xff;
      h *= 0x100000001b3ull;
    }
  }
  return h == 0 ? 1 : h;
}

}  // namespace

Page::~Page() { pool->give(data); }

PagePool::PagePool(const StateLayout& layout, size_t budget_pages, std::shared_ptr<PageMemory> memory)
    : layout_(layout), budget_pages_(budget_pages), memory_(memory ? std::move(memory) : std::make_shared<HostPageMemory>()) {}

PagePool::~PagePool() {
  for (char* p : free_) memory_->free(p, layout_.page_bytes);
}

PageRef PagePool::take() {
  char* data = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (in_use_ >= budget_pages_)
      if (!evict_one_locked())
        throw StateBudgetError("the sequence-state budget of " + std::to_string(budget_pages_) + " pages (" +
                               std::to_string(budget_pages_ * layout_.page_bytes >> 20) + " MiB) is in use");
    ++in_use_;
    ++counters_.pages_taken;
    counters_.peak_pages = std::max<uint64_t>(counters_.peak_pages, in_use_);
    if (!free_.empty()) {
      data = free_.back();
      free_.pop_back();
    }
  }
  try {
    if (!data) data = memory_->allocate(layout_.page_bytes);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    --in_use_;
    throw;
  }
  return PageRef(new Page{data, shared_from_this()});
}

void PagePool::give(char* data) {
  std::lock_guard<std::mutex> lock(mutex_);
  --in_use_;
  if (free_.size() < kKeepFree) free_.push_back(data);
  else memory_->free(data, layout_.page_bytes);
}

size_t PagePool::pages_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_use_;
}

PoolCounters PagePool::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

void PagePool::count_copy(bool full) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counters_.pages_copied;
  if (full) ++counters_.full_pages_copied;
}

// Least recently used first; among entries touched together (one prompt's chain), the deepest
// first, so a chain is never cut above a block that stays.
bool PagePool::evict_one_locked() {
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    auto e = prefix_.find(*it);
    // Only a page no sequence holds frees memory; the rest stay cached.
    if (e == prefix_.end() || e->second.page.use_count() > 1) continue;
    PageRef page = std::move(e->second.page);
    lru_.erase(e->second.lru);
    prefix_.erase(e);
    // ~Page takes the lock: let go of it outside.
    mutex_.unlock();
    page.reset();
    mutex_.lock();
    return true;
  }
  return false;
}

void PagePool::touch_locked(PrefixEntry& e) {
  lru_.erase(e.lru);
  // Deeper blocks of a chain are touched after their parents and must go first: keep the
  // list ordered by (time, depth descending) by inserting each chain's blocks before its parent.
  e.lru = lru_.insert(lru_.end(), e.key);
}

std::vector<PageRef> PagePool::attach_prefix(const int32_t* ids, size_t n, size_t keep) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counters_.prefix_lookups;
  std::vector<PageRef> pages;
  std::vector<PrefixEntry*> chain;
  const size_t P = layout_.page_rows;
  uint64_t parent = 0;
  for (size_t b = 0; (b + 1) * P + keep <= n; ++b) {
    const uint64_t key = block_key(parent, ids + b * P, P);
    auto it = prefix_.find(key);
    if (it == prefix_.end() || it->second.parent != parent || it->second.depth != b ||
        !std::equal(it->second.block.begin(), it->second.block.end(), ids + b * P))
      break;
    pages.push_back(it->second.page);
    chain.push_back(&it->second);
    parent = key;
  }
  // Deepest first into the LRU order (see evict_one_locked).
  for (auto e = chain.rbegin(); e != chain.rend(); ++e) touch_locked(**e);
  counters_.prefix_tokens_reused += pages.size() * P;
  return pages;
}

void PagePool::publish_prefix(const int32_t* ids, size_t n, const std::vector<PageRef>& pages) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t P = layout_.page_rows;
  uint64_t parent = 0;
  std::vector<PrefixEntry*> chain;
  for (size_t b = 0; (b + 1) * P <= n && b < pages.size() && pages[b]; ++b) {  // a forgotten page ends the prefix
    const uint64_t key = block_key(parent, ids + b * P, P);
    auto it = prefix_.find(key);
    if (it == prefix_.end()) {
      PrefixEntry e{key, b, std::vector<int32_t>(ids + b * P, ids + (b + 1) * P), parent, pages[b], lru_.end()};
      e.lru = lru_.insert(lru_.end(), key);
      it = prefix_.emplace(key, std::move(e)).first;
    } else if (it->second.parent != parent || it->second.depth != b ||
               !std::equal(it->second.block.begin(), it->second.block.end(), ids + b * P)) {
      break;  // a different prefix owns this key: stop rather than chain onto it
    }
    chain.push_back(&it->second);
    parent = key;
  }
  for (auto e = chain.rbegin(); e != chain.rend(); ++e) touch_locked(**e);
}

size_t PagePool::prefix_pages() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return prefix_.size();
}

void PagePool::clear_prefix() {
  std::vector<PageRef> drop;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [key, e] : prefix_) drop.push_back(std::move(e.page));
    prefix_.clear();
    lru_.clear();
  }
  drop.clear();  // outside the lock: ~Page takes it
}

void SeqTable::prepare_write(std::vector<PageRef>& pages, size_t from, size_t to) {
  const StateLayout& L = pool->layout();
  const size_t first = from >> L.page_shift, end = to == 0 ? 0 : ((to - 1) >> L.page_shift) + 1;
  for (size_t i = first; i < end; ++i) {
    if (i < pages.size()) {
      // A page another table or the prefix cache also holds: write a copy, of the rows it has
      // (only the first page of the range has any: the rows before `from`).
      if (pages[i].use_count() > 1) {
        const size_t start = i << L.page_shift;
        const size_t filled = from > start ? std::min(L.page_rows, from - start) : 0;
        PageRef copy = pool->take();
        for (int part = 0; part < 2 * L.layers; ++part) {
          const size_t off = static_cast<size_t>(part) * L.page_rows * L.row_bytes;
          if (filled > 0) pool->memory().copy(copy->data + off, pages[i]->data + off, filled * L.row_bytes);
        }
        pool->count_copy(filled == L.page_rows);
        pages[i] = std::move(copy);
      }
    } else {
      pages.push_back(pool->take());
    }
  }
}

std::unique_ptr<SeqTable> SeqTable::fork() const {
  auto t = std::make_unique<SeqTable>(pool);
  t->pages = pages;
  t->length = length;
  t->static_pages = static_pages;
  t->static_length = static_length;
  t->forgotten = forgotten;
  return t;
}

void SeqTable::forget(size_t rows) {
  const size_t whole = std::min(rows, length) >> pool->layout().page_shift;  // pages entirely before `rows`
  for (size_t i = 0; i < whole && i < pages.size(); ++i) pages[i].reset();
  forgotten = std::max(forgotten, whole << pool->layout().page_shift);
}

void SeqTable::truncate(size_t n) {
  const size_t keep = (n + pool->layout().page_rows - 1) >> pool->layout().page_shift;
  if (pages.size() > keep) pages.resize(keep);
  length = n;
}

void SeqTable::clear() {
  pages.clear();
  length = 0;
  forgotten = 0;
  static_pages.clear();
  static_length = 0;
}

}  // namespace attnode
