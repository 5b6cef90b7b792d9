# mriprep - GPU-accelerated batch preprocessor for brain MRI DICOM series.
#
#   make            build build/mriprep (and build/libmriprep.a, build/libmriprep.so)
#   make deps       install the missing Debian packages (apt-get; sudo when not root)
#   make check      the everyday loop: unit and end-to-end tests, no sanitizers, fuzzers or
#                   build variants (a few minutes); ends with the same summary line
#   make test       deps, build, run every test: make check, the release bundle and wheel
#                   (built, then run without the system's dcmtk), the unit tests again
#                   under ASan + UBSan, built with NO_OMP=1 and with SIMD=0, the variants'
#                   outputs against the default build, and the fuzzers; one summary line
#   make demo       deps, build, generate demo/data, run mriprep on it into demo/out
#   make bench      first benchmark: mriprep vs the notebook pipeline (bench/run.sh)
#   make install    PREFIX=/usr/local (DESTDIR honoured): program, libmriprep.so/.a,
#                   include/mriprep/mriprep.h, pkg-config file, Python module
#   make dist       dist/mriprep-VERSION-linux-x86_64.tar.gz: untar anywhere and run (no
#                   dcmtk or apt needed where it runs)
#   make wheel      dist/mriprep-VERSION-py3-none-manylinux_*.whl: pip install, no compiler
#   make gpu-kit    build/gpu-kit/: bash build/gpu-kit/run.sh OUTDIR validates the CUDA
#                   backend on a bare GPU machine (self-check, tests, sanitizers, timing)
#
# Switches: NO_OMP=1 (build without OpenMP), NO_CUDA=1 (ignore nvcc), SIMD=0 (the
#           portable loops instead of the SSE2 engines: MRIPREP_NO_SIMD),
#           CUDA_ARCH=75 (or "60 75 86"; a CUDA 12 user sets 60 for a P100),
#           NVCC=/path/to/nvcc, DEBUG=1 (-O0 -g), SANITIZE=1 (ASan+UBSan).

ifeq ($(origin CC),default)
CC       := gcc
endif
ifeq ($(origin CXX),default)
CXX      := g++
endif
NVCC     ?= nvcc
PYTHON   := /usr/bin/python3
BUILD    := build
NPROC    := $(shell nproc 2>/dev/null || echo 2)

# The version comes from the tree, not the build date, so builds are reproducible.
VERSION  := 0.1.0

OPT      := -O3
ifeq ($(DEBUG),1)
OPT      := -O0 -g
endif
ifeq ($(SANITIZE),1)
OPT      := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDSAN    := -fsanitize=address,undefined
endif

# -ffp-contract=off: no fused multiply-add, so float math happens in the order
# written (bit-exact resize, CPU == CUDA).
WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wcast-qual -Wpointer-arith \
            -Wundef -Wvla
CWARN    := $(WARN) -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
OPENJPEG_CFLAGS := $(shell pkg-config --cflags libopenjp2 2>/dev/null || echo -I/usr/include/openjpeg-2.5)
CPPFLAGS := -Iinclude -I. -DMRIPREP_VERSION=\"$(VERSION)\" -D_GNU_SOURCE $(OPENJPEG_CFLAGS)
ifeq ($(SIMD),0)
CPPFLAGS += -DMRIPREP_NO_SIMD
endif
CFLAGS   := -std=c11 $(OPT) $(CWARN) -ffp-contract=off -fno-fast-math -fno-math-errno
CXXFLAGS := -std=c++17 $(OPT) $(WARN) -ffp-contract=off -fno-fast-math -fno-math-errno
LDLIBS   := -lpng -lgif -lz -lm
# Position-independent code everywhere: the same objects make libmriprep.a (and so the
# program) and libmriprep.so. -fno-semantic-interposition keeps calls inside the library
# direct, as in a non-PIC build.
PIC      := -fPIC -fno-semantic-interposition
CFLAGS   += $(PIC)
CXXFLAGS += $(PIC)

# ---- feature probes: each one announces itself --------------------------------------
probe = $(shell printf 'int main(void){return 0;}\n' | $(CC) $(1) -x c - -o /dev/null >/dev/null 2>&1 && echo yes)

ifeq ($(NO_OMP),1)
HAVE_OMP := no
OMP_WHY  := disabled by NO_OMP=1
else
HAVE_OMP := $(if $(call probe,-fopenmp),yes,no)
OMP_WHY  := $(CC) does not accept -fopenmp
endif
ifeq ($(HAVE_OMP),yes)
CFLAGS   += -fopenmp
CXXFLAGS += -fopenmp
LDFLAGS  += -fopenmp
else
CFLAGS   += -Wno-unknown-pragmas
CXXFLAGS += -Wno-unknown-pragmas
endif

DCMTK_INC := /usr/include/dcmtk/dcmdata/dctk.h
HAVE_DCMTK := $(if $(wildcard $(DCMTK_INC)),yes,no)
DCMTK_LIBS := -ldcmjpls -ldcmjpeg -ldcmimgle -ldcmdata -loflog -lofstd -lopenjp2 -lpthread -lz

ifeq ($(NO_CUDA),1)
HAVE_NVCC := no
NVCC_WHY  := disabled by NO_CUDA=1
else
HAVE_NVCC := $(if $(shell command -v $(NVCC) 2>/dev/null),yes,no)
NVCC_WHY  := $(NVCC) not found
endif
# Whether CUDA_ARCH came from the user (make's origin, before the default below): make dist
# then builds for it instead of its own list.
CUDA_ARCH_ORIGIN := $(origin CUDA_ARCH)
# nvcc's flags for a list of real architectures: machine code for each, plus PTX of the
# newest so later GPUs can JIT it; -fmad=false: no fused multiply-add, bit-identical to the
# CPU backend. Numeric min/max: make's $(sort) would put 120 before 75.
cuda_arch_min = $(shell printf '%s\n' $(1) | sort -n | head -n 1)
cuda_arch_max = $(shell printf '%s\n' $(1) | sort -n | tail -n 1)
nvcc_flags = -std=c++17 -O3 -fmad=false -Iinclude -I. \
             $(foreach a,$(1),-gencode arch=compute_$(a),code=sm_$(a)) \
             -gencode arch=compute_$(call cuda_arch_max,$(1)),code=compute_$(call cuda_arch_max,$(1)) \
             -DMRIPREP_CUDA_ARCHS="\"$(subst $(eval) ,/,$(strip $(1)))\"" -DMRIPREP_CUDA_MIN_ARCH=$(call cuda_arch_min,$(1)) \
             -DMRIPREP_CUDA_PTX_ARCH=$(call cuda_arch_max,$(1)) \
             -Xcompiler -Wall,-Wextra,-ffp-contract=off,-fPIC
ifeq ($(HAVE_NVCC),yes)
NVCC_VERSION := $(shell $(NVCC) --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
# Default: the oldest real architecture this nvcc can target (75 for CUDA 13, 50 for
# CUDA 12). A CUDA 12 user on a P100 sets CUDA_ARCH=60; several: CUDA_ARCH="60 75 86".
CUDA_ARCH ?= $(shell $(NVCC) --list-gpu-code 2>/dev/null | sed -n 's/^sm_\([0-9]*\)$$/\1/p' | head -n 1)
CUDA_HOME ?= $(patsubst %/bin/,%,$(dir $(realpath $(shell command -v $(NVCC)))))
CUDA_LIBDIR := $(firstword $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/targets/x86_64-linux/lib))
NVCCFLAGS := $(call nvcc_flags,$(CUDA_ARCH))
# The static runtime: the program runs (and says "no CUDA device") where no CUDA is
# installed; the driver is loaded at run time when there is one.
CUDA_LIBS := -L$(CUDA_LIBDIR) -lcudart_static -ldl -lrt -lpthread
CUDA_FEATURE_TEXT := nvcc $(NVCC_VERSION) for sm_$(CUDA_ARCH) (set CUDA_ARCH to change), runtime $(CUDA_LIBDIR)
else
CUDA_FEATURE_TEXT := ($(NVCC_WHY): the CPU backend only)
endif

# ---- sources ----------------------------------------------------------------------
# The library, folder by stage (README "Layout"); the program is src/cli.
LIB_DIRS := core input compute output job explore api
LIB_C    := $(sort $(wildcard $(LIB_DIRS:%=src/%/*.c)))
ifeq ($(HAVE_NVCC),yes)
LIB_C    := $(filter-out src/compute/cuda_unavailable.c,$(LIB_C))
CUDA_OBJ := $(BUILD)/kernels/cuda_backend.o
endif
LIB_CXX  := $(sort $(wildcard $(LIB_DIRS:%=src/%/*.cpp)))
CLI_C    := $(sort $(wildcard src/cli/*.c))
LIB_OBJ  := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cpp=$(BUILD)/%.o) $(CUDA_OBJ)
CLI_OBJ  := $(CLI_C:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.cpp))
TEST_BIN := $(TEST_SRC:tests/%.cpp=$(BUILD)/tests/%)
GTEST_LIBS := -lgtest -lgtest_main -lpthread
OPENCV_CFLAGS := -isystem /usr/include/opencv4
OPENCV_LIBS := -lopencv_imgproc -lopencv_core
# Per-test extra libraries (the real oracles a test links against).
TEST_LIBS_test_resize := $(OPENCV_LIBS)
TEST_LIBS_test_augment := $(OPENCV_LIBS)

FEATURE_DEFS := -DMRIPREP_HAVE_OMP=$(if $(filter yes,$(HAVE_OMP)),1,0) \
                $(if $(filter yes,$(HAVE_OMP)),,-DMRIPREP_OMP_WHY="\"$(OMP_WHY)\"") \
                -DMRIPREP_NVCC_SEEN="\"$(NVCC_WHY)\""

.PHONY: all features deps test test-all check check-all sanitize sanitize-run variants-run fuzz demo bench clean \
        install uninstall dist wheel dist-bundle dist-wheel gpu-kit gpu-kit-build
# Keep test objects between runs (they are intermediates of the test binaries).
.SECONDARY:
.DEFAULT_GOAL := all

all: features $(BUILD)/mriprep $(BUILD)/libmriprep.so $(BUILD)/libmriprep.a

features:
	@printf '%s\n' "mriprep $(VERSION) build features:"
	@printf '  %s openmp  %s\n' $(if $(filter yes,$(HAVE_OMP)),"✓","✗") \
	  "$(if $(filter yes,$(HAVE_OMP)),-fopenmp,($(OMP_WHY)))"
	@printf '  %s dcmtk   %s\n' $(if $(filter yes,$(HAVE_DCMTK)),"✓","✗") \
	  "$(if $(filter yes,$(HAVE_DCMTK)),$(DCMTK_INC),(libdcmtk-dev missing: run make deps))"
	@printf '  %s cuda    %s\n' $(if $(filter yes,$(HAVE_NVCC)),"✓","✗") "$(CUDA_FEATURE_TEXT)"
	@printf '  %s simd    %s\n' $(if $(filter 0,$(SIMD)),"✗","✓") \
	  "$(if $(filter 0,$(SIMD)),(disabled by SIMD=0: the portable loops),SSE2 engines where the compiler targets SSE2; their AVX2 builds chosen at run time)"
ifneq ($(HAVE_DCMTK),yes)
	@echo "error: dcmtk headers not found ($(DCMTK_INC)); run 'make deps' first" >&2; exit 1
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(FEATURE_DEFS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(FEATURE_DEFS) $(CXXFLAGS) -MMD -MP -c $< -o $@

# Two archives of the same objects. The program, the tests and the benchmarks link
# libmriprep_internal.a, every function of every stage. libmriprep.a, the one installed
# for users of the C API, is one relocatable object whose only global definitions are the
# API's (src/api/libmriprep.map): the library's internal functions (dataset_walk,
# path_join, ...) are made local, so they cannot clash with a program's own. Weak
# definitions (C++ inline and template code) stay as they are.
$(BUILD)/libmriprep_internal.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libmriprep.a: $(LIB_OBJ) src/api/libmriprep.map
	@rm -f $@ $(BUILD)/libmriprep_api.o $(BUILD)/libmriprep.local
	ld -r -o $(BUILD)/libmriprep_api.o $(LIB_OBJ)
	nm --defined-only -g $(BUILD)/libmriprep_api.o | awk '$$2 ~ /^[TDBRC]$$/ && $$3 !~ /^mriprep_/ {print $$3}' \
	  >$(BUILD)/libmriprep.local
	objcopy --localize-symbols=$(BUILD)/libmriprep.local $(BUILD)/libmriprep_api.o
	ar rcs $@ $(BUILD)/libmriprep_api.o

# Linked by the C++ driver because the dcmtk shim is C++.
$(BUILD)/mriprep: $(CLI_OBJ) $(BUILD)/libmriprep_internal.a
	$(CXX) $(LDFLAGS) $(LDSAN) $^ -o $@ $(DCMTK_LIBS) $(CUDA_LIBS) $(LDLIBS)

# The shared library: the objects of libmriprep.a, exporting only the public API of
# include/mriprep/mriprep.h (src/api/libmriprep.map). The soname's number is the API's major
# version; build/libmriprep.so links to it for -Lbuild -lmriprep and the Python module.
SO_MAJOR := 1
SONAME   := libmriprep.so.$(SO_MAJOR)
SO_NO_UNDEFINED := $(if $(filter 1,$(SANITIZE)),,-Wl,--no-undefined)
$(BUILD)/$(SONAME): $(LIB_OBJ) src/api/libmriprep.map
	$(CXX) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/api/libmriprep.map $(SO_NO_UNDEFINED) \
	  $(LDFLAGS) $(LDSAN) $(LIB_OBJ) -o $@ $(DCMTK_LIBS) $(CUDA_LIBS) $(LDLIBS)

$(BUILD)/libmriprep.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

# Objects of a build folder made before -fPIC was added cannot go into the .so: a stamp
# made when make first reads this Makefile for the folder is newer than them, so they are
# rebuilt once. (A rule could not make it: .SECONDARY never remakes a missing file.)
ifeq ($(wildcard $(BUILD)/.pic),)
$(shell mkdir -p $(BUILD) && touch $(BUILD)/.pic)
endif
$(LIB_OBJ) $(CLI_OBJ): $(BUILD)/.pic

$(BUILD)/kernels/%.o: kernels/%.cu $(wildcard kernels/*.h kernels/*.cuh include/mriprep/*.h)
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

# ---- tests ------------------------------------------------------------------------
$(BUILD)/tests/%.o: tests/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(OPENCV_CFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libmriprep_internal.a
	$(CXX) $(LDFLAGS) $(LDSAN) $< $(BUILD)/libmriprep_internal.a -o $@ \
	  $(TEST_LIBS_$*) $(GTEST_LIBS) $(DCMTK_LIBS) $(CUDA_LIBS) $(LDLIBS)

deps:
	@bash scripts/deps.sh

# Probes run when make reads the Makefile, so after installing packages the rest runs
# in a fresh make that sees them. `make test` is what CI runs: every test, the unit tests
# again under ASan + UBSan, and the fuzzers for FUZZ_SECONDS each; one summary line.
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) test-all

test-all: all $(TEST_BIN) dist-wheel gpu-kit-build
	@bash tests/run_tests.sh reset
	@bash tests/run_tests.sh unit $(TEST_BIN)
	@bash tests/run_tests.sh system
	@bash tests/run_tests.sh dist
	@$(MAKE) --no-print-directory sanitize-run
	@$(MAKE) --no-print-directory variants-run
	@$(MAKE) --no-print-directory fuzz
	@bash tests/run_tests.sh summary

# The everyday loop: unit and end-to-end tests, no sanitizers, fuzzers or variants.
check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) check-all

check-all: all $(TEST_BIN)
	@bash tests/run_tests.sh reset
	@bash tests/run_tests.sh unit $(TEST_BIN)
	@bash tests/run_tests.sh system
	@bash tests/run_tests.sh summary

# The builds the code claims besides the default, each in a folder of its own: without
# OpenMP (NO_OMP=1: one thread, the pragmas ignored) and with the portable loops (SIMD=0:
# MRIPREP_NO_SIMD, the stats and resize engines' plain C). Their unit tests run, and their
# programs' outputs are compared byte for byte with the default build's
# (tests/e2e/test_variants.py).
VARIANTS := build-noomp:NO_OMP=1 build-nosimd:SIMD=0
variants-run:
	@$(foreach v,$(VARIANTS),$(MAKE) --no-print-directory NO_CUDA=1 BUILD=$(word 1,$(subst :, ,$(v))) \
	  $(word 2,$(subst :, ,$(v))) $(word 1,$(subst :, ,$(v)))/mriprep \
	  $(TEST_SRC:tests/%.cpp=$(word 1,$(subst :, ,$(v)))/tests/%) &&) true
	@bash tests/run_tests.sh unit-as noomp $(TEST_SRC:tests/%.cpp=build-noomp/tests/%)
	@bash tests/run_tests.sh unit-as nosimd $(TEST_SRC:tests/%.cpp=build-nosimd/tests/%)
	@bash tests/run_tests.sh variants

# The unit tests built with AddressSanitizer and UndefinedBehaviorSanitizer (in
# build-asan; without CUDA, whose runtime ASan does not know). Any report fails the test.
ASAN_BUILD := build-asan
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
sanitize: deps
	@bash tests/run_tests.sh reset
	@$(MAKE) --no-print-directory sanitize-run
	@bash tests/run_tests.sh summary

sanitize-run:
	@$(MAKE) --no-print-directory SANITIZE=1 NO_CUDA=1 BUILD=$(ASAN_BUILD) \
	  $(TEST_SRC:tests/%.cpp=$(ASAN_BUILD)/tests/%)
	@$(SANITIZE_ENV) bash tests/run_tests.sh unit-as asan $(TEST_SRC:tests/%.cpp=$(ASAN_BUILD)/tests/%)

# A small sample dataset (8 patients, 256x256 slices, a missing modality, an empty folder,
# a blank series: what the real data has), explored (scan, charts, pictures) and run
# through the main job, from scratch each time. docs/images/ holds a copy of its pictures.
demo: deps
	@$(MAKE) --no-print-directory all
	rm -rf demo/data demo/out
	$(PYTHON) scripts/make_dataset.py demo/data --patients 6 --test-patients 2 --size 256 --seed 1 --problems
	./$(BUILD)/mriprep scan demo/data --pixels --json demo/out/scan.json --csv demo/out/scan.csv --problems 8
	$(PYTHON) scripts/plot_scan.py demo/out/scan.json demo/out/charts
	./$(BUILD)/mriprep show demo/data/train/00000 --png demo/out/patient-00000.png
	./$(BUILD)/mriprep show demo/data/train/00000/FLAIR --gif demo/out/00000-FLAIR.gif --size 128
	./$(BUILD)/mriprep run demo/data demo/out
	@echo; echo "demo/out/manifest.csv (first rows):"; head -n 8 demo/out/manifest.csv
	@echo "volumes: $$(find demo/out -name '*.npy' | wc -l) .npy files in demo/out; open one with numpy.load;"
	@echo "charts: demo/out/charts/index.html; pictures: demo/out/patient-00000.png, demo/out/00000-FLAIR.gif"

# Warm and cold tables (bench/bench.py); BENCH_PEERS=1 make bench adds the MONAI peer.
bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/decode_only
	bash bench/run.sh

# Benchmark helpers, linked like the program.
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libmriprep_internal.a
	$(CXX) $(LDFLAGS) $(LDSAN) $^ -o $@ $(DCMTK_LIBS) $(CUDA_LIBS) $(LDLIBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-noomp build-nosimd $(DIST)

# ---- install ----------------------------------------------------------------------
# make install PREFIX=/usr/local [DESTDIR=/staging]: the program, the library (shared and
# static), the public header, a pkg-config file and the Python module. PYTHONDIR defaults
# to PREFIX/lib/python3.X/dist-packages, on Debian's sys.path for PREFIX=/usr/local; the
# module finds the library two folders up (PREFIX/lib), or at LIBDIR as installed.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PYTHON_XY   = $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)
PYTHONDIR  ?= $(LIBDIR)/python$(PYTHON_XY)/dist-packages
# What a static link (pkg-config --static) needs besides libmriprep.a.
PC_LIBS_PRIVATE := $(if $(filter yes,$(HAVE_OMP)),-fopenmp) $(DCMTK_LIBS) $(CUDA_LIBS) $(LDLIBS) -lstdc++

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/mriprep \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(PYTHONDIR)
	install -m 755 $(BUILD)/mriprep $(DESTDIR)$(BINDIR)/mriprep
	install -m 755 $(BUILD)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libmriprep.so
	install -m 644 $(BUILD)/libmriprep.a $(DESTDIR)$(LIBDIR)/libmriprep.a
	install -m 644 include/mriprep/mriprep.h $(DESTDIR)$(INCLUDEDIR)/mriprep/mriprep.h
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: mriprep' 'Description: brain MRI DICOM series to model-ready volumes (mriprep run, one series at a time)' \
	  'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lmriprep' \
	  'Libs.private: $(strip $(PC_LIBS_PRIVATE))' >$(DESTDIR)$(PKGCONFIGDIR)/mriprep.pc
	sed 's|^_INSTALLED_LIBDIR = None|_INSTALLED_LIBDIR = "$(LIBDIR)"|' scripts/mriprep.py \
	  >$(DESTDIR)$(PYTHONDIR)/mriprep.py
	chmod 644 $(DESTDIR)$(PYTHONDIR)/mriprep.py
	@echo "installed into $(DESTDIR)$(PREFIX) (python module: $(PYTHONDIR)/mriprep.py)"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mriprep $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libmriprep.so \
	  $(DESTDIR)$(LIBDIR)/libmriprep.a $(DESTDIR)$(INCLUDEDIR)/mriprep/mriprep.h \
	  $(DESTDIR)$(PKGCONFIGDIR)/mriprep.pc $(DESTDIR)$(PYTHONDIR)/mriprep.py
	-rmdir $(DESTDIR)$(INCLUDEDIR)/mriprep 2>/dev/null

# ---- release bundle and wheel (docs/install.md) -------------------------------------
# make dist:  dist/mriprep-VERSION-linux-x86_64.tar.gz, untar anywhere and run: the
#             program and library of this build (the same objects; only the CUDA object is
#             built again, for DIST_CUDA_ARCH), the shared libraries a bare Debian 12 or
#             Ubuntu 22.04 lacks, found through RUNPATH, dcmtk's dictionary, the Python
#             module, the header and a pkg-config file (scripts/dist/bundle.py).
# make wheel: dist/mriprep-VERSION-py3-none-manylinux_2_NN_x86_64.whl from that bundle
#             (scripts/dist/wheel.py): `import mriprep` and a `mriprep` command, no compiler.
# The bundle carries machine code for sm_75 to sm_90 plus PTX; CUDA_ARCH given to make
# (a CUDA 12 user on a P100: make dist CUDA_ARCH=60) replaces that list.
DIST        := dist
DIST_BUILD  := $(BUILD)/dist
DIST_NAME   := mriprep-$(VERSION)-linux-$(shell uname -m)
DIST_CUDA_ARCH := $(if $(filter command line environment,$(CUDA_ARCH_ORIGIN)),$(CUDA_ARCH),75 80 86 89 90)
DIST_LIB_OBJ := $(filter-out $(CUDA_OBJ),$(LIB_OBJ)) $(if $(CUDA_OBJ),$(DIST_BUILD)/cuda_backend.o)
DIST_TARBALL := $(DIST)/$(DIST_NAME).tar.gz

$(DIST_BUILD)/cuda_backend.o: kernels/cuda_backend.cu $(wildcard kernels/*.h kernels/*.cuh include/mriprep/*.h)
	@mkdir -p $(@D)
	$(NVCC) $(call nvcc_flags,$(DIST_CUDA_ARCH)) -c $< -o $@

$(DIST_BUILD)/libmriprep_internal.a: $(DIST_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(DIST_BUILD)/mriprep: $(CLI_OBJ) $(DIST_BUILD)/libmriprep_internal.a
	$(CXX) $(LDFLAGS) $^ -o $@ $(DCMTK_LIBS) $(CUDA_LIBS) $(LDLIBS)

$(DIST_BUILD)/$(SONAME): $(DIST_LIB_OBJ) src/api/libmriprep.map
	$(CXX) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/api/libmriprep.map -Wl,--no-undefined \
	  $(LDFLAGS) $(DIST_LIB_OBJ) -o $@ $(DCMTK_LIBS) $(CUDA_LIBS) $(LDLIBS)

# From a clean clone: make deps first (as demo and test do), then a make that sees them.
dist: deps
	@$(MAKE) --no-print-directory -j$(NPROC) dist-bundle

wheel: deps
	@$(MAKE) --no-print-directory -j$(NPROC) dist-wheel

dist-bundle: all $(DIST_BUILD)/mriprep $(DIST_BUILD)/$(SONAME)
	$(PYTHON) scripts/dist/bundle.py --name $(DIST_NAME) --version $(VERSION) \
	  --program $(DIST_BUILD)/mriprep --library $(DIST_BUILD)/$(SONAME) --out $(DIST)

dist-wheel: dist-bundle
	$(PYTHON) scripts/dist/wheel.py $(DIST)/$(DIST_NAME) --version $(VERSION) --out $(DIST)

# ---- the GPU kit (scripts/gpu_kit/) ---------------------------------------------------
# make gpu-kit: build/gpu-kit/, at most 48 MiB: the release bundle's program and libraries,
# the GPU test binaries linked against the same objects, a generated dataset and run.sh,
# which validates the CUDA backend on a bare GPU machine in one call (bash run.sh OUTDIR;
# README "The CUDA backend").
GPU_KIT := $(BUILD)/gpu-kit
GPU_KIT_TESTS := $(DIST_BUILD)/tests/test_cuda $(DIST_BUILD)/tests/test_device_check

$(DIST_BUILD)/tests/%: $(BUILD)/tests/%.o $(DIST_BUILD)/libmriprep_internal.a
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< $(DIST_BUILD)/libmriprep_internal.a -o $@ \
	  $(TEST_LIBS_$*) $(GTEST_LIBS) $(DCMTK_LIBS) $(CUDA_LIBS) $(LDLIBS)

gpu-kit: deps
	@$(MAKE) --no-print-directory -j$(NPROC) gpu-kit-build

gpu-kit-build: dist-bundle $(GPU_KIT_TESTS)
	$(PYTHON) scripts/gpu_kit/make_kit.py --bundle $(DIST)/$(DIST_NAME) --tests $(GPU_KIT_TESTS) \
	  --version $(VERSION) --out $(GPU_KIT)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# libFuzzer targets for the DICOM shim and the labels parser (make fuzz; part of make test).
include fuzz.mk
