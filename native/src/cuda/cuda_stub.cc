// Built when CUDA is not compiled in (no nvcc, or ATTNODE_CUDA=OFF): the addon reports that, and
// the `cuda` backend fails with "attnode was built without CUDA support" (ts/backend/backends.ts).
#include <string>

namespace attnode {

bool cuda_compiled() { return false; }

int cuda_device_count(std::string* why) {
  if (why) *why = "attnode was built without CUDA support";
  return 0;
}

std::string cuda_device_name(int) { return ""; }

}  // namespace attnode
