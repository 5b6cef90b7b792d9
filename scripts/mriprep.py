"""mriprep from Python: `mriprep run`'s pipeline on one series at a time, for training loops.

A ctypes binding of libmriprep.so (include/mriprep/mriprep.h) with numpy; nothing to
compile. Run with a Python that has numpy (Debian: /usr/bin/python3).

    import mriprep
    vol = mriprep.process_series("DATA/train/00000/FLAIR", size=128, slices=64)
    ds = mriprep.Dataset("DATA", size=128, slices=64, layout="dhw")
    item = ds[0]    # {"id", "split", "label", "volumes": {modality: ndarray or None},
                    #  "status": {modality: "ok"|"empty"|"missing"|"failed"}, "reasons": {...}}

process_series() returns exactly the array `mriprep run` writes into the .npy of that
series with the same options (same dtype, shape and bytes). A series that gives no volume
raises: EmptySeries (no .dcm file, or every slice blank or dark: `mriprep run`'s "empty")
or SeriesFailed (a file cannot be decoded; the message names it). Dataset never raises for
a series: it gives None and the reason. Other problems (a folder that cannot be listed,
bad options, no CUDA device when device="cuda") raise MriprepError with the library's
message, which names the path.

Options (those of `mriprep run`): size (N, (W, H) or "WxH"), slices, dark, margin, device
("auto", "cpu", "cuda", "cuda:N"), threads (0 = all cores), dtype ("float32" or
"float16"), layout ("hwd" = (H, W, D) as the notebook, or "dhw"); and the volumetric
ones (README, "Presets"): order ("name" or "position"), crop ("slice" or "volume"),
intensity ("minmax" or "raw"), norm ("volume" or "nonzero"), depth ("keep" or "pad"),
center ("middle" or "largest"), reorient and rescale (True/False), or
preset="volumetric" for `mriprep run --preset volumetric`'s set (position order,
reorient, volume crop, nonzero norm, pad; the layout stays as given, and the output is
the array, not NIfTI). With reorient the shape says the order the axes came out in.

The library is found, in this order: $MRIPREP_LIBRARY (the file, or a folder holding
it); the one a wheel carries (mriprep/lib/); the release bundle's (python/ -> lib/);
build/ of the source tree this file is in (scripts/mriprep.py); the lib/ folder of
the prefix it is installed under (PREFIX/lib/python3.X/dist-packages/mriprep.py ->
PREFIX/lib); the folder `make install` wrote it to; the system's library path.
Installed as a wheel, the `mriprep` command runs the program the wheel carries
(console_main).

Processes and threads: a context (buffers, and the GPU with device "cuda") belongs to the
process that made it. Dataset makes its context lazily in each process, so PyTorch
DataLoader workers (fork) each get their own; give threads=1 (or cores / workers) when
several workers run at once. A context is used by one thread at a time; the library
releases the GIL while it works, so threads with their own Context run in parallel.
"""

import ctypes
import ctypes.util
import os
import pathlib
import sys
import threading

import numpy as np

__all__ = ["MriprepError", "EmptySeries", "SeriesFailed", "Context", "Dataset", "process_series",
           "library_path", "version", "DEFAULT_MODALITIES"]

DEFAULT_MODALITIES = ("FLAIR", "T1w", "T1wCE", "T2w")  # the library's own default (dataset.h), for callers
API_VERSION = 2                 # MRIPREP_API_VERSION this module was written for
_SONAME = "libmriprep.so.1"
_INSTALLED_LIBDIR = None        # `make install` writes LIBDIR here

_MESSAGE_MAX = 512
_STATUS_BUFFER = 100
_OUTCOMES = {0: "ok", 1: "empty", 2: "failed"}
_PRESENCE_STATUS = {0: "ok", 1: "missing", 2: "empty", 3: "excluded", 4: "failed"}
_DTYPES = {"float32": 0, "float16": 1}
_LAYOUTS = {"hwd": 0, "dhw": 1}
# The volumetric options (API 2) and their defaults: `mriprep run`'s --order, --crop,
# --intensity, --norm, --depth, --center (words), --reorient and --rescale (switches).
VOLUMETRIC_DEFAULTS = {"order": "name", "crop": "slice", "intensity": "minmax", "norm": "volume", "depth": "keep",
                       "center": "middle", "reorient": False, "rescale": False}
# What `mriprep run --preset volumetric` sets, less its NIfTI output (arrays here).
VOLUMETRIC_PRESET = {"order": "position", "reorient": True, "crop": "volume", "norm": "nonzero", "depth": "pad"}


class MriprepError(Exception):
    """The library refused or failed; str() is its message (it names the path).
    .status: "io", "usage", "nomem", ...; .path: the series or dataset folder, if any."""

    def __init__(self, message, status="internal", path=None):
        super().__init__(message)
        self.status = status
        self.path = path


class EmptySeries(MriprepError):
    """The series gives no volume: no .dcm file, or every slice blank or dark
    (`mriprep run`'s status "empty"). .result holds the counts."""

    def __init__(self, message, path=None, result=None):
        super().__init__(message, "empty", path)
        self.result = result


class SeriesFailed(MriprepError):
    """A file of the series cannot be decoded; the message names it (`mriprep run`'s
    status "failed"). .result holds the counts."""

    def __init__(self, message, path=None, result=None):
        super().__init__(message, "failed", path)
        self.result = result


# ---- the C API (mirrors include/mriprep/mriprep.h) -------------------------------------

class _Options(ctypes.Structure):
    _fields_ = [("api_version", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("slices", ctypes.c_int), ("dark", ctypes.c_double), ("margin", ctypes.c_int),
                ("dtype", ctypes.c_int), ("layout", ctypes.c_int), ("threads", ctypes.c_int),
                ("device", ctypes.c_char_p),
                # API 2
                ("order", ctypes.c_char_p), ("crop", ctypes.c_char_p), ("intensity", ctypes.c_char_p),
                ("norm", ctypes.c_char_p), ("depth", ctypes.c_char_p), ("center", ctypes.c_char_p),
                ("reorient", ctypes.c_int), ("rescale", ctypes.c_int)]


class _Result(ctypes.Structure):
    _fields_ = [("outcome", ctypes.c_int), ("reason", ctypes.c_char * _MESSAGE_MAX),
                ("shape", ctypes.c_uint64 * 3), ("volume_bytes", ctypes.c_size_t), ("copied", ctypes.c_int),
                ("files", ctypes.c_uint32), ("kept", ctypes.c_uint32), ("depth", ctypes.c_uint32),
                ("src_rows", ctypes.c_uint32), ("src_cols", ctypes.c_uint32),
                ("mean", ctypes.c_double), ("std", ctypes.c_double)]


class _SeriesInfo(ctypes.Structure):
    _fields_ = [("split", ctypes.c_char_p), ("patient", ctypes.c_char_p), ("modality", ctypes.c_char_p),
                ("dir", ctypes.c_char_p), ("label", ctypes.c_char_p), ("problem", ctypes.c_char_p),
                ("presence", ctypes.c_int), ("files", ctypes.c_size_t)]


_lib = None
_lib_path = None
_lib_lock = threading.Lock()


def _candidates():
    env = os.environ.get("MRIPREP_LIBRARY")
    if env:
        p = pathlib.Path(env)
        yield p / _SONAME if p.is_dir() else p
        return  # an explicit choice is not second-guessed
    here = pathlib.Path(__file__).resolve().parent
    yield here / "lib" / _SONAME                           # the wheel: mriprep/__init__.py -> mriprep/lib/
    yield here.parent / "lib" / _SONAME                    # the release bundle: python/ -> lib/
    yield here.parent / "build" / _SONAME                  # the source tree: scripts/ -> build/
    yield here.parent.parent / _SONAME                     # PREFIX/lib/python3.X/dist-packages -> PREFIX/lib
    yield here.parent.parent.parent / _SONAME              # PREFIX/lib/python3/dist-packages, deeper layouts
    if _INSTALLED_LIBDIR:
        yield pathlib.Path(_INSTALLED_LIBDIR) / _SONAME
    yield pathlib.Path(ctypes.util.find_library("mriprep") or _SONAME)


def _load():
    global _lib, _lib_path
    with _lib_lock:
        if _lib is not None:
            return _lib
        tried = []
        for path in _candidates():
            if path.is_absolute() and not path.exists():
                tried.append(f"{path} (not there)")
                continue
            try:
                lib = ctypes.CDLL(str(path))
            except OSError as e:
                tried.append(f"{path} ({e})")
                continue
            if lib.mriprep_api_version() < API_VERSION:   # before _declare: an older one lacks functions
                tried.append(f"{path} (API version {lib.mriprep_api_version()}, this module needs {API_VERSION})")
                continue
            _declare(lib)
            _lib, _lib_path = lib, str(path)
            return lib
        raise MriprepError("cannot load libmriprep (build it with `make`, install it with `make install`, "
                           "or set MRIPREP_LIBRARY); tried: " + "; ".join(tried), "io")


def _declare(lib):
    c_int, c_size, c_char_p, c_void_p = ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p
    P = ctypes.POINTER
    sigs = {
        "mriprep_api_version": ([], c_int),
        "mriprep_version_string": ([], c_char_p),
        "mriprep_status_name": ([c_int], c_char_p),
        "mriprep_options_init_version": ([P(_Options), c_int], None),
        "mriprep_create": ([P(_Options), P(c_void_p), c_char_p, c_size], c_int),
        "mriprep_destroy": ([c_void_p], None),
        "mriprep_last_error": ([c_void_p], c_char_p),
        "mriprep_device": ([c_void_p], c_char_p),
        "mriprep_device_reason": ([c_void_p], c_char_p),
        "mriprep_threads": ([c_void_p], c_int),
        "mriprep_volume_capacity": ([c_void_p], c_size),
        "mriprep_process_series": ([c_void_p, c_char_p, c_void_p, c_size, P(_Result)], c_int),
        "mriprep_copy_volume": ([c_void_p, c_void_p, c_size], c_int),
        "mriprep_dataset_open": ([c_char_p, P(c_char_p), c_size, c_char_p, P(c_void_p), c_char_p, c_size], c_int),
        "mriprep_dataset_free": ([c_void_p], None),
        "mriprep_dataset_series_count": ([c_void_p], c_size),
        "mriprep_dataset_patient_count": ([c_void_p], c_size),
        "mriprep_dataset_series": ([c_void_p, c_size, P(_SeriesInfo)], c_int),
        "mriprep_dataset_labels_path": ([c_void_p], c_char_p),
        "mriprep_dataset_warning_count": ([c_void_p], c_size),
        "mriprep_dataset_warning": ([c_void_p, c_size], c_char_p),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res


def console_main():
    """The wheel's `mriprep` command: the program bundled beside this module (mriprep/bin/),
    with the same arguments and exit status."""
    program = pathlib.Path(__file__).resolve().parent / "bin" / "mriprep"
    if not os.access(program, os.X_OK):
        sys.exit(f"mriprep: {program} is not there or not executable (the `mriprep` command "
                 "comes with the wheel; from a source tree run build/mriprep)")
    os.execv(program, ["mriprep"] + sys.argv[1:])


def library_path():
    """The path of the libmriprep loaded (loading it if needed)."""
    _load()
    return _lib_path


def version():
    """mriprep's version, e.g. "0.1.0"."""
    return _load().mriprep_version_string().decode()


def _status_name(lib, status):
    return lib.mriprep_status_name(status).decode()


def _path_bytes(path):
    return os.fsencode(os.fspath(path))


def _size_pair(size):
    """256 -> (256, 256); (W, H) or "WxH" -> (W, H): --size's width x height."""
    if isinstance(size, str):
        w, _, h = size.lower().partition("x")
        return int(w), int(h or w)
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"size {size!r}: expected N, (W, H) or 'WxH'")
        return int(size[0]), int(size[1])
    return int(size), int(size)


def _volumetric_options(given):
    """The volumetric options, defaults filled in; preset="volumetric" (or "notebook")
    first, then the options given; TypeError naming an unknown one."""
    given = dict(given)
    preset = given.pop("preset", None)
    unknown = set(given) - set(VOLUMETRIC_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    if preset not in (None, "notebook", "volumetric"):
        raise MriprepError(f"preset {preset!r}: expected 'notebook' or 'volumetric'", "usage")
    return {**VOLUMETRIC_DEFAULTS, **(VOLUMETRIC_PRESET if preset == "volumetric" else {}), **given}


# ---- contexts ---------------------------------------------------------------------------

class Context:
    """One pipeline (buffers kept between series) with fixed options, in this process.

    ctx = Context(size=128, slices=64); vol = ctx.process("DATA/train/00000/FLAIR").
    Use from one thread at a time; close() (or `with`) frees it at once."""

    def __init__(self, size=256, slices=128, dark=0.01, margin=0, device="auto", threads=0,
                 dtype="float32", layout="hwd", **volumetric):
        lib = _load()
        if dtype not in _DTYPES:
            raise MriprepError(f"dtype {dtype!r}: expected 'float32' or 'float16'", "usage")
        if layout not in _LAYOUTS:
            raise MriprepError(f"layout {layout!r}: expected 'hwd' or 'dhw'", "usage")
        volumetric = _volumetric_options(volumetric)
        opt = _Options()
        lib.mriprep_options_init_version(ctypes.byref(opt), API_VERSION)
        opt.width, opt.height = _size_pair(size)
        opt.slices, opt.dark, opt.margin, opt.threads = int(slices), float(dark), int(margin), int(threads)
        opt.dtype, opt.layout = _DTYPES[dtype], _LAYOUTS[layout]
        device_bytes = str(device).encode()
        opt.device = device_bytes
        for name, value in volumetric.items():   # the library checks the words
            setattr(opt, name, int(bool(value)) if name in ("reorient", "rescale") else str(value).encode())
        handle = ctypes.c_void_p()
        message = ctypes.create_string_buffer(_MESSAGE_MAX)
        st = lib.mriprep_create(ctypes.byref(opt), ctypes.byref(handle), message, _MESSAGE_MAX)
        if st != 0:
            raise MriprepError(message.value.decode(errors="replace"), _status_name(lib, st))
        self._lib, self._handle, self._pid = lib, handle, os.getpid()
        self.dtype = np.dtype(np.float32 if dtype == "float32" else np.float16)
        self.layout = layout
        self.options = dict(size=_size_pair(size), slices=int(slices), dark=float(dark), margin=int(margin),
                            device=str(device), threads=int(threads), dtype=dtype, layout=layout, **volumetric)

    def _live(self):
        if self._handle is None:
            raise MriprepError("the context is closed", "usage")
        if self._pid != os.getpid():
            raise MriprepError("this context belongs to process %d; create one in this process (%d)"
                               % (self._pid, os.getpid()), "usage")
        return self._handle

    @property
    def device(self):
        """"cpu" or "cuda:0 (name, sm_XY)"."""
        return self._lib.mriprep_device(self._live()).decode()

    @property
    def device_reason(self):
        return self._lib.mriprep_device_reason(self._live()).decode()

    @property
    def threads(self):
        return self._lib.mriprep_threads(self._live())

    def process_result(self, path):
        """(volume or None, info): info is a dict like `mriprep run`'s manifest row:
        status ("ok", "empty", "failed"), reason, files, kept, depth, src_rows, src_cols,
        mean, std, shape. Raises MriprepError only when the folder cannot be listed or the
        library fails."""
        handle = self._live()
        res = _Result()
        st = self._lib.mriprep_process_series(handle, _path_bytes(path), None, 0, ctypes.byref(res))
        if st != 0:
            raise MriprepError(self._lib.mriprep_last_error(handle).decode(errors="replace"),
                               _status_name(self._lib, st), os.fspath(path))
        info = {"status": _OUTCOMES.get(res.outcome, str(res.outcome)),
                "reason": res.reason.decode(errors="replace"), "files": res.files, "kept": res.kept,
                "depth": res.depth, "src_rows": res.src_rows, "src_cols": res.src_cols,
                "mean": res.mean, "std": res.std, "shape": tuple(int(n) for n in res.shape)}
        if res.outcome != 0:
            return None, info
        vol = np.empty(info["shape"], dtype=self.dtype)
        if vol.nbytes != res.volume_bytes:
            raise MriprepError(f"{os.fspath(path)}: volume of {res.volume_bytes} bytes for shape {vol.shape}",
                               "internal", os.fspath(path))
        st = self._lib.mriprep_copy_volume(handle, vol.ctypes.data, vol.nbytes)
        if st != 0:
            raise MriprepError(self._lib.mriprep_last_error(handle).decode(errors="replace"),
                               _status_name(self._lib, st), os.fspath(path))
        return vol, info

    def process(self, path):
        """The volume `mriprep run` writes for the series folder `path` with these options.
        Raises EmptySeries, SeriesFailed or MriprepError (see the module's help)."""
        vol, info = self.process_result(path)
        if vol is not None:
            return vol
        where = os.fspath(path)
        if info["status"] == "empty":
            raise EmptySeries(f"{where}: empty series: {info['reason']}", where, info)
        raise SeriesFailed(f"{where}: failed: {info['reason']}", where, info)

    def close(self):
        handle, self._handle = self._handle, None
        # A context inherited through fork is the parent's: its memory (and GPU) are not
        # this process's to free.
        if handle is not None and self._pid == os.getpid():
            self._lib.mriprep_destroy(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


_contexts = {}          # (pid, options) -> (Context, lock): process_series' reused contexts
_contexts_lock = threading.Lock()
_CONTEXTS_KEPT = 4


def process_series(path, size=256, slices=128, dark=0.01, margin=0, device="auto", threads=0,
                   dtype="float32", layout="hwd", **volumetric):
    """The volume `mriprep run` writes for the series folder `path` with the same options:
    a numpy array, float32 or float16, shape (H, W, D) ("hwd") or (D, H, W) ("dhw").

    Raises EmptySeries when the series gives no volume (no .dcm file, every slice blank or
    dark), SeriesFailed when a file cannot be decoded, MriprepError for a folder that cannot
    be listed or bad options (the message names the path or option). A context per set of
    options is kept for later calls in this process (buffers are reused)."""
    volumetric = _volumetric_options(volumetric)
    key = (os.getpid(), _size_pair(size), int(slices), float(dark), int(margin), str(device), int(threads),
           dtype, layout, tuple(sorted(volumetric.items())))
    with _contexts_lock:
        for k in [k for k in _contexts if k[0] != os.getpid()]:
            del _contexts[k]    # inherited from a parent process: not ours to use
        entry = _contexts.pop(key, None)
        if entry is None:
            entry = (Context(size, slices, dark, margin, device, threads, dtype, layout, **volumetric),
                     threading.Lock())
        _contexts[key] = entry  # most recently used last
        while len(_contexts) > _CONTEXTS_KEPT:
            _contexts.pop(next(iter(_contexts)))
    ctx, lock = entry
    with lock:
        return ctx.process(path)


# ---- datasets ---------------------------------------------------------------------------

def _walk(root, modalities, labels):
    """The series `mriprep run` would process, grouped by patient (run's order)."""
    lib = _load()
    mods = [m.encode() for m in modalities]
    arr = (ctypes.c_char_p * len(mods))(*mods)
    if labels is None:
        labels_arg = None               # run's default: ROOT/train_labels.csv when present
    elif labels is False or labels == "":
        labels_arg = b""                # none
    else:
        labels_arg = _path_bytes(labels)
    handle = ctypes.c_void_p()
    message = ctypes.create_string_buffer(_MESSAGE_MAX)
    st = lib.mriprep_dataset_open(_path_bytes(root), arr, len(mods), labels_arg, ctypes.byref(handle), message,
                                  _MESSAGE_MAX)
    if st != 0:
        raise MriprepError(message.value.decode(errors="replace"), _status_name(lib, st), os.fspath(root))
    try:
        patients, index = [], {}
        info = _SeriesInfo()
        for i in range(lib.mriprep_dataset_series_count(handle)):
            lib.mriprep_dataset_series(handle, i, ctypes.byref(info))
            split, pid = os.fsdecode(info.split), os.fsdecode(info.patient)
            if (split, pid) not in index:
                label = info.label.decode()
                index[(split, pid)] = len(patients)
                patients.append({"split": split, "id": pid, "label": int(label) if label.isdigit() else None,
                                 "series": []})
            mod = os.fsdecode(info.modality)
            presence = _PRESENCE_STATUS.get(info.presence, "failed")
            reason = {"missing": f"no {mod} folder", "empty": "no .dcm files", "excluded": "excluded",
                      "failed": os.fsdecode(info.problem)}.get(presence, "")
            patients[index[(split, pid)]]["series"].append(
                (mod, os.fsdecode(info.dir), presence, reason, int(info.files)))
        labels_used = os.fsdecode(lib.mriprep_dataset_labels_path(handle))
        warnings = [lib.mriprep_dataset_warning(handle, i).decode(errors="replace")
                    for i in range(lib.mriprep_dataset_warning_count(handle))]
    finally:
        lib.mriprep_dataset_free(handle)
    return patients, labels_used, warnings


class Dataset:
    """The patients of a dataset as `mriprep run` walks it, processed on the fly.

    ds = Dataset(root, modalities=DEFAULT_MODALITIES, labels=None, **options)
    len(ds): patient folders (train then test, or the folders of root).
    ds[i] -> {"id": "00109", "split": "train", "label": 0, 1 or None,
              "volumes": {modality: ndarray or None},
              "status": {modality: "ok" | "empty" | "missing" | "failed"},
              "reasons": {modality: "" or why the volume is None}}
    labels: None reads root/train_labels.csv when present (as `mriprep run`), a path reads
    that file (BraTS21ID,MGMT_value), False none. options: those of process_series().
    transform: a function applied to each item (e.g. to make tensors).

    A map-style dataset for PyTorch: the walk happens here, once; the pipeline context is
    made lazily in each process that reads items (DataLoader workers included), and is
    not pickled (spawn workers build theirs too)."""

    def __init__(self, root, modalities=DEFAULT_MODALITIES, labels=None, transform=None, **options):
        unknown = set(options) - {"size", "slices", "dark", "margin", "device", "threads", "dtype", "layout",
                                  "preset", *VOLUMETRIC_DEFAULTS}
        if unknown:
            raise TypeError(f"Dataset: unknown options {sorted(unknown)}")
        if isinstance(modalities, str):
            modalities = tuple(m.strip() for m in modalities.split(",") if m.strip())
        self.root = os.fspath(root)
        self.modalities = tuple(modalities)
        self.options = options
        self.transform = transform
        self.patients, self.labels_path, self.label_warnings = _walk(self.root, self.modalities, labels)
        self._ctx = None
        self._ctx_pid = None

    def __len__(self):
        return len(self.patients)

    def context(self):
        """This process's context, made on first use (and again after a fork)."""
        if self._ctx is None or self._ctx_pid != os.getpid():
            self._ctx = None    # a parent's context is left alone (Context.close checks the pid)
            self._ctx = Context(**self.options)
            self._ctx_pid = os.getpid()
        return self._ctx

    def __getitem__(self, i):
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"Dataset indices are integers, not {type(i).__name__}")
        n = len(self.patients)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"patient {i} of {n}")
        p = self.patients[i]
        item = {"id": p["id"], "split": p["split"], "label": p["label"], "volumes": {}, "status": {},
                "reasons": {}}
        ctx = None
        for mod, folder, presence, reason, _files in p["series"]:
            vol = None
            if presence == "ok":
                ctx = ctx or self.context()
                try:
                    vol, info = ctx.process_result(folder)
                    presence, reason = info["status"], info["reason"]
                except MriprepError as e:   # e.g. the folder went away since the walk
                    presence, reason = "failed", str(e)
            item["volumes"][mod] = vol
            item["status"][mod] = presence
            item["reasons"][mod] = reason
        return self.transform(item) if self.transform else item

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_ctx"] = state["_ctx_pid"] = None    # contexts do not travel between processes
        return state

    def __repr__(self):
        return (f"mriprep.Dataset({self.root!r}, {len(self)} patients, modalities={self.modalities}, "
                f"options={self.options})")
