// Sequence state in pages: the K/V rows of every layer for one sequence, held in fixed-size
// pages taken from a per-model pool (PagePool) and reached through a page table (SeqTable).
// Not the Node-API surface (state_js.cc) and not the kernels (they read PagedRows, args.h).
//
// A page holds `page_rows` positions of every layer's K and V:
//   page: (layers, 2, page_rows, row) where row = Hkv * D elements of the state's dtype,
// so one page table serves every layer, and layer l's K rows of a page start at byte
// (2 * l) * page_rows * row_bytes, its V rows at (2 * l + 1) * page_rows * row_bytes.
// Pages are reference counted: a fork shares every page of its parent, and a page that more
// than one holder has is copied before it is written (copy-on-write), so forks, beam
// reordering and prefix sharing move page tables, not rows.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "dtype.h"

namespace attnode {

struct StateLayout {
  int layers = 0;
  size_t row_bytes = 0;   // one layer's K (or V) row: Hkv * D elements
  size_t page_rows = 0;   // a power of two
  int page_shift = 0;     // log2(page_rows)
  size_t page_bytes = 0;  // layers * 2 * page_rows * row_bytes
  DType dtype = DType::f32;

  size_t part_offset(int layer, bool v) const { return (static_cast<size_t>(layer) * 2 + (v ? 1 : 0)) * page_rows * row_bytes; }
};

// Thrown when a page is needed and the budget has none left (state_js.cc makes it a RangeError).
struct StateBudgetError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class PagePool;

// Where pages live: host memory (mmap, the default) or a device's memory (the cuda backend's
// pools, cuda_js/pages.cc). The pool's page tables, copy-on-write and prefix cache are the same
// for both; only taking, returning and copying page bytes differ.
class PageMemory {
 public:
  virtual ~PageMemory() = default;
  // `bytes` of page memory; throws std::bad_alloc (host) or an error naming the failed call.
  virtual char* allocate(size_t bytes) = 0;
  virtual void free(char* p, size_t bytes) noexcept = 0;
  // Copies bytes between pages (copy-on-write), ordered before any later pass that reads them.
  virtual void copy(char* dst, const char* src, size_t bytes) = 0;
  // Whether page bytes are device memory (host code must not read them).
  virtual bool device() const { return false; }
};

// One page of rows; returns its memory to the pool when the last holder lets go.
struct Page {
  char* data;
  std::shared_ptr<PagePool> pool;
  ~Page();
};
using PageRef = std::shared_ptr<Page>;

// Counters a test or benchmark reads (stats()).
struct PoolCounters {
  uint64_t pages_taken = 0;    // pages handed out since the pool was made
  uint64_t pages_copied = 0;   // copy-on-write copies (a shared page about to be written)
  uint64_t full_pages_copied = 0;  // of those, pages whose every row was filled
  uint64_t peak_pages = 0;     // most pages in use at once
  uint64_t prefix_tokens_reused = 0;  // prompt tokens attached from the prefix cache
  uint64_t prefix_lookups = 0;
};

class PagePool : public std::enable_shared_from_this<PagePool> {
 public:
  // budget_pages: most pages in use at once (sequences and the prefix cache together).
  PagePool(const StateLayout& layout, size_t budget_pages, std::shared_ptr<PageMemory> memory = nullptr);
  ~PagePool();
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  const StateLayout& layout() const { return layout_; }
  size_t budget_pages() const { return budget_pages_; }
  PageMemory& memory() const { return *memory_; }

  // A page for writing (its bytes are whatever they were: rows are written before they are
  // read). Evicts prefix-cache pages no sequence uses when the budget is reached; throws
  // StateBudgetError when nothing can be evicted.
  PageRef take();
  // Called by ~Page.
  void give(char* data);

  size_t pages_in_use() const;
  PoolCounters counters() const;
  void count_copy(bool full);

  // The prefix cache: full pages of prompts, keyed by a hash chained over page-sized blocks of
  // token ids from the start of the prompt (block b's key covers ids [0, (b + 1) * page_rows)).
  // Entries keep their token block, so a hash collision is never taken for a match.
  // attach_prefix returns the pages of the longest cached prefix of `ids` that leaves at least
  // `keep` ids unmatched; publish stores the full pages of `pages` that `ids` covers.
  std::vector<PageRef> attach_prefix(const int32_t* ids, size_t n, size_t keep);
  void publish_prefix(const int32_t* ids, size_t n, const std::vector<PageRef>& pages);
  size_t prefix_pages() const;
  void clear_prefix();

 private:
  struct PrefixEntry {
    uint64_t key;
    size_t depth;
    std::vector<int32_t> block;  // the block's ids
    uint64_t parent;             // key of the block before (0 for the first)
    PageRef page;
    std::list<uint64_t>::iterator lru;  // position in lru_ (front: least recently used)
  };
  bool evict_one_locked();
  void touch_locked(PrefixEntry& e);

  const StateLayout layout_;
  const size_t budget_pages_;
  const std::shared_ptr<PageMemory> memory_;
  mutable std::mutex mutex_;
  std::vector<char*> free_;  // pages returned and kept for reuse (at most kKeepFree)
  size_t in_use_ = 0;
  PoolCounters counters_;
  std::unordered_map<uint64_t, PrefixEntry> prefix_;
  std::list<uint64_t> lru_;
};

// One sequence's page tables, by part: 'self' rows [0, length) (self-attention K/V that grow by
// each pass's tokens) and 'static' rows [0, static_length) (cross-attention K/V of an encoder's
// output, written once by the encoder's plan and read by every decoder step).
struct SeqTable {
  std::shared_ptr<PagePool> pool;
  std::vector<PageRef> pages;
  size_t length = 0;
  std::vector<PageRef> static_pages;
  size_t static_length = 0;
  // Self rows [0, forgotten) were let go (a sliding window no query will look behind again):
  // their pages are null in `pages`.
  size_t forgotten = 0;
  std::atomic<int> busy{0};  // passes in flight that read or write these pages

  explicit SeqTable(std::shared_ptr<PagePool> p) : pool(std::move(p)) {}
  size_t capacity() const { return pages.size() << pool->layout().page_shift; }
  size_t page_count() const {
    size_t n = static_pages.size();
    for (const PageRef& p : pages) n += p ? 1 : 0;
    return n;
  }
  // Lets go of the whole self pages before row `rows` (at most the length).
  void forget(size_t rows);
  // Makes rows [from, to) of a part writable: pages are taken for rows past the table, and
  // shared pages in the range are replaced by private copies (copy-on-write). Throws
  // StateBudgetError.
  void prepare_write(size_t from, size_t to) { prepare_write(pages, from, to); }
  void prepare_static_write(size_t from, size_t to) { prepare_write(static_pages, from, to); }
  // A table that shares every page of this one.
  std::unique_ptr<SeqTable> fork() const;
  // Keeps rows [0, n); pages past them go back to the pool.
  void truncate(size_t n);
  // Drops every page.
  void clear();

 private:
  void prepare_write(std::vector<PageRef>& table, size_t from, size_t to);
};

// Marks a table busy while a pass that uses it is in flight (held by the pass's job).
class BusyGuard {
 public:
  explicit BusyGuard(std::shared_ptr<SeqTable> t) : table_(std::move(t)) { table_->busy.fetch_add(1); }
  ~BusyGuard() { table_->busy.fetch_sub(1); }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  std::shared_ptr<SeqTable> table_;
};

}  // namespace attnode
