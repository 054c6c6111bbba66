"""PTX to a GPU binary with NVIDIA's nvJitLink (cuda.bindings), without a GPU: for the compile checks and
bench/gpu_instructions.py."""
from __future__ import annotations


def link(ptx: str, arch: str, *options: str) -> tuple[bytes, str]:
    """(the cubin, nvJitLink's info log) for `ptx` compiled for `arch` (e.g. "sm_90")."""
    from cuda.bindings import nvjitlink

    data = ptx.encode()
    h = nvjitlink.create(1 + len(options), [f"-arch={arch}", *options])
    try:
        nvjitlink.add_data(h, nvjitlink.InputType.PTX, data, len(data), "kernel")
        nvjitlink.complete(h)
        log = bytearray(nvjitlink.get_info_log_size(h))
        nvjitlink.get_info_log(h, log)
        cubin = bytearray(nvjitlink.get_linked_cubin_size(h))
        nvjitlink.get_linked_cubin(h, cubin)
    finally:
        nvjitlink.destroy(h)
    return bytes(cubin), log.decode(errors="replace")
