# SPDX-License-Identifier: GPL-3.0-or-later
# Finds LibTorch and what it can do, for the top-level CMakeLists.txt.
#
# LibTorch comes from -DTorch_DIR=... / CMAKE_PREFIX_PATH (Debian's libtorch-dev, an unpacked
# official archive) or from the Python package (pip install torch): GQA_TORCH_FROM_PYTHON = AUTO
# (the default) asks `python3 -c 'import torch'` for its CMake prefix when find_package(Torch)
# finds nothing; ON asks it first; OFF never. GQA_PYTHON names the interpreter.
#
# Sets:
#   GQA_TORCH_CUDA         LibTorch was built with CUDA (its c10_cuda library is there)
#   GQA_WITH_NCCL          c10d NCCL can be compiled: a CUDA LibTorch, ProcessGroupNCCL.hpp in
#                          its headers and an nccl.h (the CUDA toolkit's, $NCCL_HOME's, or pip's
#                          nvidia-nccl package's); GQA_NCCL=OFF turns it off
#   GQA_NCCL_INCLUDE_DIR   where nccl.h is
#   GQA_GLOO_INCLUDE_DIR   gloo's headers, which c10d's ProcessGroupGloo.hpp includes: LibTorch's
#                          own when its include folder has them, else the system's (libgloo-dev),
#                          else GQA_GLOO_FALLBACK_DIR (the GPU bundle's copy, gpu-bundle.sh)

set(GQA_TORCH_FROM_PYTHON AUTO CACHE STRING
    "Find LibTorch in the Python torch package: AUTO (when not found otherwise), ON (first), OFF")
set_property(CACHE GQA_TORCH_FROM_PYTHON PROPERTY STRINGS AUTO ON OFF)
set(GQA_PYTHON python3 CACHE STRING "Python interpreter asked for the torch package's paths")
option(GQA_NCCL "Build the NCCL communicator when LibTorch has CUDA and NCCL" ON)

# Runs `GQA_PYTHON -c CODE`, sets OUT to its stripped output (empty on failure).
function(gqa_python_query out code)
  execute_process(COMMAND ${GQA_PYTHON} -c "${code}"
    OUTPUT_VARIABLE text ERROR_VARIABLE error RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0)
    set(${out} "${text}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

macro(gqa_torch_from_python)
  gqa_python_query(gqa_torch_prefix "import torch; print(torch.utils.cmake_prefix_path)")
  if(gqa_torch_prefix)
    message(STATUS "GQA: using the Python torch package's LibTorch (${gqa_torch_prefix})")
    list(APPEND CMAKE_PREFIX_PATH "${gqa_torch_prefix}")
    unset(Torch_DIR CACHE)
  else()
    message(STATUS "GQA: '${GQA_PYTHON} -c \"import torch\"' failed: no Python torch package")
  endif()
endmacro()

if(GQA_TORCH_FROM_PYTHON STREQUAL "ON")
  gqa_torch_from_python()
  find_package(Torch REQUIRED)
elseif(GQA_TORCH_FROM_PYTHON STREQUAL "AUTO")
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    gqa_torch_from_python()
    find_package(Torch)
  endif()
  if(NOT Torch_FOUND)
    message(FATAL_ERROR "LibTorch not found: pass -DTorch_DIR=<dir with TorchConfig.cmake> "
            "(Debian: /usr/lib/x86_64-linux-gnu/cmake/Torch), or install the Python package "
            "(pip install torch) and make ${GQA_PYTHON} the interpreter that has it")
  endif()
else()
  find_package(Torch REQUIRED)
endif()

# CUDA: the c10_cuda library (1.13 sets C10_CUDA_LIBRARY, 2.x also has a c10_cuda target).
if(C10_CUDA_LIBRARY OR TARGET c10_cuda OR TARGET torch_cuda)
  set(GQA_TORCH_CUDA ON)
else()
  set(GQA_TORCH_CUDA OFF)
endif()

# Gloo's own headers, which c10d's ProcessGroupGloo.hpp includes.
# LibTorch's own copy first (it matches its Gloo), then the system's, then GQA_GLOO_FALLBACK_DIR
# (the GPU bundle's initial cache sets it).
find_path(GQA_GLOO_INCLUDE_DIR gloo/algorithm.h
  HINTS ${TORCH_INCLUDE_DIRS} PATHS ${GQA_GLOO_FALLBACK_DIR}
  DOC "Folder holding gloo/algorithm.h (gloo's headers)")
if(NOT GQA_GLOO_INCLUDE_DIR)
  message(FATAL_ERROR "gloo's headers (gloo/algorithm.h) are neither in LibTorch's include "
          "folders (${TORCH_INCLUDE_DIRS}) nor elsewhere: install libgloo-dev, or pass "
          "-DGQA_GLOO_INCLUDE_DIR=<bundle>/prefix/include (scripts/gpu-bundle.sh)")
endif()

# NCCL: ProcessGroupNCCL.hpp ships with every LibTorch (Debian's CPU one too), so the header alone
# proves nothing; it needs a CUDA LibTorch and nccl.h.
set(GQA_WITH_NCCL OFF)
find_file(GQA_NCCL_PG_HEADER torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp
  PATHS ${TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH)
if(GQA_NCCL AND GQA_TORCH_CUDA AND GQA_NCCL_PG_HEADER)
  gqa_python_query(gqa_pip_nccl "import nvidia.nccl as n; print(list(n.__path__)[0])")
  find_path(GQA_NCCL_INCLUDE_DIR nccl.h
    HINTS ${gqa_pip_nccl}/include ENV NCCL_HOME ENV NCCL_ROOT_DIR
    PATHS ${CUDAToolkit_INCLUDE_DIRS} ${CUDA_INCLUDE_DIRS} ${CUDA_TOOLKIT_ROOT_DIR}/include
    PATH_SUFFIXES include)
  if(GQA_NCCL_INCLUDE_DIR)
    set(GQA_WITH_NCCL ON)
  endif()
endif()
if(GQA_WITH_NCCL)
  set(gqa_nccl_text "yes (nccl.h in ${GQA_NCCL_INCLUDE_DIR})")
elseif(NOT GQA_NCCL)
  set(gqa_nccl_text "no (GQA_NCCL=OFF)")
elseif(NOT GQA_TORCH_CUDA)
  set(gqa_nccl_text "no (LibTorch without CUDA)")
elseif(NOT GQA_NCCL_PG_HEADER)
  set(gqa_nccl_text "no (no ProcessGroupNCCL.hpp in LibTorch's headers)")
else()
  set(gqa_nccl_text "no (nccl.h not found: set NCCL_HOME, or pip install nvidia-nccl-cu12)")
endif()
if(Torch_VERSION VERSION_GREATER_EQUAL 2.0)
  set(gqa_kernel_text "sdpa (and matmul)")
else()
  set(gqa_kernel_text "matmul (sdpa needs LibTorch 2.0)")
endif()
message(STATUS "GQA: LibTorch ${Torch_VERSION} from ${Torch_DIR}; CUDA: ${GQA_TORCH_CUDA}; "
               "attention kernel: ${gqa_kernel_text}; NCCL: ${gqa_nccl_text}")
message(STATUS "GQA: gloo headers: ${GQA_GLOO_INCLUDE_DIR}")
