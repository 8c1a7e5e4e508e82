# The CUDA architectures to compile for: ATTNODE_CUDA_ARCHS (a CMake list, e.g. "80;90"), from the
# cache, else from the environment variable of the same name, else 80 and 90 (A100 and H100/H200
# class). Every architecture must be sm_80 or newer: the tensor-core GEMM uses bf16 mma.sync and
# the async copies that sm_80 introduced. CI compiles one architecture to keep its build short.
if(NOT DEFINED ATTNODE_CUDA_ARCHS)
  if(DEFINED ENV{ATTNODE_CUDA_ARCHS} AND NOT "$ENV{ATTNODE_CUDA_ARCHS}" STREQUAL "")
    set(ATTNODE_CUDA_ARCHS "$ENV{ATTNODE_CUDA_ARCHS}")
  else()
    set(ATTNODE_CUDA_ARCHS "80;90")
  endif()
endif()
string(REPLACE "," ";" ATTNODE_CUDA_ARCHS "${ATTNODE_CUDA_ARCHS}")
foreach(arch IN LISTS ATTNODE_CUDA_ARCHS)
  string(REGEX MATCH "^[0-9]+" arch_num "${arch}")
  if(NOT arch_num OR arch_num LESS 80)
    message(FATAL_ERROR "ATTNODE_CUDA_ARCHS: '${arch}' is older than sm_80 (the kernels need bf16 mma.sync and cp.async)")
  endif()
endforeach()
set(CMAKE_CUDA_ARCHITECTURES ${ATTNODE_CUDA_ARCHS})
