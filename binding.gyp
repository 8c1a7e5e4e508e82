{
  "variables": {
    "common_defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/src"],
    "defines": ["<@(common_defines)"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fvisibility=hidden"],
    "xcode_settings": {"GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17"},
    "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1}}
  },
  "targets": [
    {
      "target_name": "attnode",
      "sources": [
        "<!@(node tools/gyp-sources.mjs native/src native/src/ops native/src/weights native/src/cpu native/src/cpu/isa/scalar)",
        "native/src/cuda/cuda_stub.cc"
      ],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["isa_avx2", "isa_avx512", "isa_avxvnni"]}],
        ["target_arch=='arm64'", {"dependencies": ["isa_neon", "isa_neon_dot"]}],
        ["OS=='linux'", {"libraries": ["-ldl"]}]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "isa_avx2",
          "type": "static_library",
          "sources": ["<!@(node tools/gyp-sources.mjs native/src/cpu/isa/avx2)"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c"]
        },
        {
          "target_name": "isa_avxvnni",
          "type": "static_library",
          "sources": ["<!@(node tools/gyp-sources.mjs native/src/cpu/isa/avxvnni)"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c", "-mavxvnni"]
        },
        {
          "target_name": "isa_avx512",
          "type": "static_library",
          "sources": ["<!@(node tools/gyp-sources.mjs native/src/cpu/isa/avx512)"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512vnni", "-mavx512bf16", "-mavx2", "-mfma", "-mf16c"]
        }
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "isa_neon",
          "type": "static_library",
          "sources": ["<!@(node tools/gyp-sources.mjs native/src/cpu/isa/neon)"]
        },
        {
          "target_name": "isa_neon_dot",
          "type": "static_library",
          "sources": ["<!@(node tools/gyp-sources.mjs native/src/cpu/isa/neon_dot)"],
          "cflags_cc": ["-march=armv8.2-a+dotprod"]
        }
      ]
    }]
  ]
}
