// A small client of ggml's own type traits (libggml-base and one CPU backend library of
// node-llama-cpp's prebuilt binaries): dequantizes a GGUF's tensors with ggml's to_float, and
// computes a weight tensor's row dot products with activations exactly as llama.cpp's CPU matmul
// does (activations through the weight type's vec_dot_type from_float, then vec_dot), with the
// SIMD kernels of the chosen CPU library or with its portable *_generic ones. A reference for the
// format-parity checks (tools/llamacpp/diff-formats.mjs), not part of attnode.
//
// CPU_LIB is one libggml-cpu-*.so, or the folder holding them: then the one llama.cpp's loader
// would pick (the highest ggml_backend_score this CPU supports), named on stderr.
//
//   ggml-rows dequant CPU_LIB FILE.gguf OUT_DIR        one OUT_DIR/<tensor>.f32 per tensor
//   ggml-rows dot CPU_LIB FILE.gguf TENSOR K X.f32 OUT.f32 [generic]
//        X: (M, K) f32 rows; OUT: (M, N) f32, OUT[m, n] = vec_dot(W row n, X row m)
//
// Declarations written out by hand from ggml/include/ggml.h, ggml-cpu.h and gguf.h of the release
// the binaries were built from (v0.4.0): the trait structs are read, never built, here.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*ggml_to_float_t)(const void *x, float *y, int64_t k);
typedef void (*ggml_from_float_t)(const float *x, void *y, int64_t k);
typedef void (*ggml_vec_dot_t)(int n, float *s, size_t bs, const void *x, size_t bx, const void *y, size_t by, int nrc);
// ggml.h: struct ggml_type_traits
struct ggml_type_traits {
  const char *type_name;
  int64_t blck_size;
  int64_t blck_size_interleave;
  size_t type_size;
  bool is_quantized;
  ggml_to_float_t to_float;
  ggml_from_float_t from_float_ref;
};
// ggml-cpu.h: struct ggml_type_traits_cpu
struct ggml_type_traits_cpu {
  ggml_from_float_t from_float;
  ggml_vec_dot_t vec_dot;
  int vec_dot_type;
  int64_t nrows;
};
const struct ggml_type_traits *ggml_get_type_traits(int type);
struct gguf_context;
struct gguf_init_params { bool no_alloc; void **ctx; };
struct gguf_context *gguf_init_from_file(const char *fname, struct gguf_init_params params);
void gguf_free(struct gguf_context *ctx);
int64_t gguf_get_n_tensors(const struct gguf_context *ctx);
int64_t gguf_find_tensor(const struct gguf_context *ctx, const char *name);
const char *gguf_get_tensor_name(const struct gguf_context *ctx, int64_t tensor_id);
int gguf_get_tensor_type(const struct gguf_context *ctx, int64_t tensor_id);
size_t gguf_get_tensor_offset(const struct gguf_context *ctx, int64_t tensor_id);
size_t gguf_get_tensor_size(const struct gguf_context *ctx, int64_t tensor_id);
size_t gguf_get_data_offset(const struct gguf_context *ctx);

static void die(const char *what, const char *detail) {
  fprintf(stderr, "ggml-rows: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

static void *read_tensor(const char *file, struct gguf_context *g, int64_t id) {
  size_t size = gguf_get_tensor_size(g, id);
  void *buf = malloc(size ? size : 1);
  FILE *f = fopen(file, "rb");
  if (!buf || !f) die("cannot read", file);
  if (fseek(f, (long)(gguf_get_data_offset(g) + gguf_get_tensor_offset(g, id)), SEEK_SET) != 0 || fread(buf, 1, size, f) != size) die("short read of", file);
  fclose(f);
  return buf;
}

static int64_t values_of(struct gguf_context *g, int64_t id) {
  const struct ggml_type_traits *t = ggml_get_type_traits(gguf_get_tensor_type(g, id));
  return (int64_t)(gguf_get_tensor_size(g, id) / t->type_size) * t->blck_size;
}

static void write_f32(const char *path, const float *v, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(v, sizeof(float), n, f) != n) die("cannot write", path);
  fclose(f);
}

static int cmd_dequant(const char *file, const char *dir) {
  struct gguf_init_params ip = {true, NULL};
  struct gguf_context *g = gguf_init_from_file(file, ip);
  if (!g) die("ggml could not read the GGUF header of", file);
  for (int64_t id = 0; id < gguf_get_n_tensors(g); id++) {
    const struct ggml_type_traits *t = ggml_get_type_traits(gguf_get_tensor_type(g, id));
    // F32 has no to_float: its bytes are the values.
    const bool f32 = gguf_get_tensor_type(g, id) == 0;
    if (!t->to_float && !f32) die("no to_float for the type of", gguf_get_tensor_name(g, id));
    int64_t n = values_of(g, id);
    void *src = read_tensor(file, g, id);
    float *y = malloc(sizeof(float) * (size_t)n);
    if (f32) memcpy(y, src, sizeof(float) * (size_t)n);
    else t->to_float(src, y, n);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.f32", dir, gguf_get_tensor_name(g, id));
    write_f32(path, y, (size_t)n);
    free(src);
    free(y);
  }
  gguf_free(g);
  return 0;
}

static int cmd_dot(void *cpu, int argc, char **argv) {
  if (argc < 5) die("usage", "dot CPU_LIB FILE.gguf TENSOR K X.f32 OUT.f32 [generic]");
  const char *file = argv[0], *name = argv[1], *xpath = argv[3], *opath = argv[4];
  const bool generic = argc > 5 && strcmp(argv[5], "generic") == 0;
  const int64_t k = atoll(argv[2]);
  struct gguf_init_params ip = {true, NULL};
  struct gguf_context *g = gguf_init_from_file(file, ip);
  if (!g) die("ggml could not read the GGUF header of", file);
  int64_t id = gguf_find_tensor(g, name);
  if (id < 0) die("no tensor", name);
  const int type = gguf_get_tensor_type(g, id);
  const struct ggml_type_traits *wt = ggml_get_type_traits(type);
  const struct ggml_type_traits_cpu *(*cpu_traits)(int) = (const struct ggml_type_traits_cpu *(*)(int))dlsym(cpu, "ggml_get_type_traits_cpu");
  if (!cpu_traits) die("ggml_get_type_traits_cpu not found", dlerror());
  const struct ggml_type_traits_cpu *ct = cpu_traits(type);
  ggml_vec_dot_t dot = ct->vec_dot;
  if (generic) {
    char sym[128];
    snprintf(sym, sizeof sym, "ggml_vec_dot_%s_%s_generic", wt->type_name, ggml_get_type_traits(ct->vec_dot_type)->type_name);
    dot = (ggml_vec_dot_t)dlsym(cpu, sym);
    if (!dot) die("no generic kernel", sym);
  }
  const struct ggml_type_traits_cpu *at = cpu_traits(ct->vec_dot_type);
  const struct ggml_type_traits *ab = ggml_get_type_traits(ct->vec_dot_type);
  if (k % wt->blck_size || k % ab->blck_size) die("K is not a multiple of the blocks", argv[2]);
  const int64_t n = values_of(g, id) / k;
  const size_t wrow = (size_t)(k / wt->blck_size) * wt->type_size, arow = (size_t)(k / ab->blck_size) * ab->type_size;
  unsigned char *w = read_tensor(file, g, id);
  FILE *xf = fopen(xpath, "rb");
  if (!xf) die("cannot read", xpath);
  fseek(xf, 0, SEEK_END);
  const int64_t m = ftell(xf) / (long)sizeof(float) / k;
  fseek(xf, 0, SEEK_SET);
  float *x = malloc(sizeof(float) * (size_t)(m * k));
  if (fread(x, sizeof(float), (size_t)(m * k), xf) != (size_t)(m * k)) die("short read of", xpath);
  fclose(xf);
  unsigned char *qa = malloc(arow);
  float *out = malloc(sizeof(float) * (size_t)(m * n));
  for (int64_t r = 0; r < m; r++) {
    (at->from_float ? at->from_float : ab->from_float_ref)(x + r * k, qa, k);
    for (int64_t c = 0; c < n; c++) dot((int)k, out + r * n + c, 0, w + c * wrow, 0, qa, 0, 1);
  }
  write_f32(opath, out, (size_t)(m * n));
  fprintf(stdout, "{\"type\":\"%s\",\"vec_dot_type\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"kernel\":\"%s\"}\n", wt->type_name, ab->type_name,
          (long long)m, (long long)n, (long long)k, generic ? "generic" : "simd");
  gguf_free(g);
  return 0;
}

// The CPU variant ggml_backend_load_best would load from `dir`: the highest nonzero score.
static void *best_cpu_library(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return NULL;
  void *best = NULL;
  int best_score = 0;
  char best_name[512] = "";
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, "libggml-cpu-", 12) != 0 || !strstr(e->d_name, ".so")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) continue;
    int (*score)(void) = (int (*)(void))dlsym(h, "ggml_backend_score");
    int s = score ? score() : 0;
    if (s > best_score) {
      if (best) dlclose(best);
      best = h;
      best_score = s;
      snprintf(best_name, sizeof best_name, "%s", e->d_name);
    } else {
      dlclose(h);
    }
  }
  closedir(d);
  if (best) fprintf(stderr, "ggml-rows: CPU library %s (score %d)\n", best_name, best_score);
  return best;
}

int main(int argc, char **argv) {
  if (argc < 4) die("usage", "ggml-rows dequant|dot CPU_LIB ...");
  void *cpu = best_cpu_library(argv[2]);
  if (!cpu) cpu = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (!cpu) die("cannot load the CPU library", dlerror());
  void (*cpu_init)(void) = (void (*)(void))dlsym(cpu, "ggml_cpu_init");
  if (cpu_init) cpu_init();
  if (strcmp(argv[1], "dequant") == 0 && argc == 5) return cmd_dequant(argv[3], argv[4]);
  if (strcmp(argv[1], "dot") == 0) return cmd_dot(cpu, argc - 3, argv + 3);
  die("unknown command", argv[1]);
  return 1;
}
