// A view of rows kept in the pages of sequence state (state.h), for kernels that read K/V by
// row. Plain data: no Node-API, so kernels include it.
#pragma once

#include <cstddef>

namespace attnode {

// Rows of a tensor kept in the pages of sequence state (state.h), not contiguous: row r of the
// view starts at pages[(first + r) >> shift] + offset + ((first + r) & (page_rows - 1)) * row_bytes.
struct PagedRows {
  char* const* pages = nullptr;
  size_t page_rows = 0;
  int shift = 0;
  size_t row_bytes = 0;
  size_t offset = 0;  // bytes from a page's start to the view's part (layer, K or V)
  size_t first = 0;   // the view's row 0 in the state
  template <class T>
  T* row(size_t r) const {
    const size_t x = first + r;
    return reinterpret_cast<T*>(pages[x >> shift] + offset + (x & (page_rows - 1)) * row_bytes);
  }
};

}  // namespace attnode
