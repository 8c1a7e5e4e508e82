// Math.exp as V8 computes it (fdlibm's e_exp.c), so native passes over a sampler's scores give
// the same f64 bits as the TypeScript reference. Not a fast exp: one scalar call per element.
#pragma once

namespace attnode {

// e^x rounded exactly as V8's Math.exp rounds it (base/ieee754.cc, fdlibm 5.3): the C library's
// exp may differ in the last bit, and a last bit moves a top-p or min-p edge.
double js_exp(double x);

}  // namespace attnode
