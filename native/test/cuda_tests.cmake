# The CUDA kernel tests and benchmark, plain executables without Node: the CUDA kernels (attnode_cuda,
# native/src/cuda/cuda.cmake) and the scalar CPU reference kernels they are judged against.
set(ATTNODE_CPU_REFERENCE ${ATTNODE_ROOT}/native/src/cpu/isa/scalar/elementwise.cc
  ${ATTNODE_ROOT}/native/src/cpu/isa/scalar/attention.cc ${ATTNODE_ROOT}/native/src/cpu/block_formats.cc
  ${ATTNODE_ROOT}/native/src/cpu/position_bias.cc)
add_executable(cuda_kernels_test ${ATTNODE_ROOT}/native/test/cuda_kernels_test.cc ${ATTNODE_CPU_REFERENCE})
add_executable(cuda_bench ${ATTNODE_ROOT}/native/test/cuda_bench.cc ${ATTNODE_CPU_REFERENCE})
foreach(t cuda_kernels_test cuda_bench)
  target_include_directories(${t} PRIVATE ${ATTNODE_ROOT}/native/src ${ATTNODE_ROOT}/native/test)
  target_link_libraries(${t} PRIVATE attnode_cuda)
  target_compile_options(${t} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-O2 -Wall -Wextra -Wno-unused-parameter>)
  set_target_properties(${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/cuda-tests)
endforeach()
