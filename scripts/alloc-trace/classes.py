"""hakmem's size classes as the trace tools model them (replay.py, reuse-sim.py): 16-byte steps
to 1 KiB, 4 per doubling to 32 KiB, 8 per doubling to 4 MiB (the medium tier), the request
itself above. The older model: today's small tier has 8 per doubling and the classes 16 bytes
above 1, 2 and 4 KiB (config::COARSE8, POW2_HEADER_CLASSES), which the medium-tier questions
these tools answer do not need.
"""


def cls(s):
    if s <= 1024:
        return ((max(s, 1) + 15) // 16) * 16
    if s > 4 << 20:
        return s
    step = (1 << ((s - 1).bit_length() - 1)) // (4 if s <= 32768 else 8)
    return ((s + step - 1) // step) * step
