/* NVRTC provides memcpy in device code; nothing to add (CUDA 12 check only). */
#pragma once
