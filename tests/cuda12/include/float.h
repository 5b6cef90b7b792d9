/* NVRTC has no C library: the one <float.h> constant the resize header uses. */
#pragma once
#define DBL_EPSILON 2.2204460492503131e-16
