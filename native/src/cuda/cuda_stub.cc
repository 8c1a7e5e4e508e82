// Built when CUDA is not compiled in: the addon reports that, and CUDA ops fail clearly.
namespace attnode {
bool cuda_compiled() { return false; }
}  // namespace attnode
