/* NVRTC declares the CUDA math functions itself; nothing to add (CUDA 12 check only). */
#pragma once
