# The CUDA kernels and runtime as a static library, `attnode_cuda`, shared by the addon
# (CMakeLists.txt) and the kernel tests (native/test/CMakeLists.txt, which needs no Node).
# Expects the CUDA language enabled and CMAKE_CUDA_ARCHITECTURES set; ATTNODE_ROOT is the repository.
file(GLOB ATTNODE_CUDA_SOURCES CONFIGURE_DEPENDS ${ATTNODE_ROOT}/native/src/cuda/*.cu)
add_library(attnode_cuda STATIC ${ATTNODE_CUDA_SOURCES})
set_target_properties(attnode_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON CUDA_VISIBILITY_PRESET hidden
  CXX_VISIBILITY_PRESET hidden)
target_compile_features(attnode_cuda PUBLIC cxx_std_17)
target_compile_options(attnode_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 -Xcompiler=-fPIC>)
target_include_directories(attnode_cuda PUBLIC ${ATTNODE_ROOT}/native/src)
target_link_libraries(attnode_cuda PUBLIC CUDA::cudart_static)
