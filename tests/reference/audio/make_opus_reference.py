#!/usr/bin/env python3
"""Reference decodes of Ogg Opus by opusdec (opus-tools: libopusfile over
libopus, the reference decoder) for the Rust Opus decoder
(stages/src/audio/opus.rs). Standard library only; deterministic: running
it again with the same libopus rewrites the same files.

    apt-get install -y opus-tools warzone2100-music
    python3 tests/reference/audio/make_opus_reference.py

Each file is decoded once, as
    opusdec --quiet --float --rate 48000 FILE out.f32
(raw interleaved little-endian float32 at 48 kHz, pre-skip dropped, end
trimmed to the final granule position, header gain applied).

Inputs:
  tone_opus.opus   0.5 s mono 440 Hz (committed, made by make_reference.py)
  MENU             Warzone 2100's menu music (Debian's warzone2100-music),
                   3:00 stereo, too long to store whole

Outputs (raw little-endian float32, C order; shapes in opus_reference.json):
  opus_tone.f32        [1, N] all of tone_opus.opus
  opus_menu_head.f32   [2, HEAD] the first HEAD samples of MENU, planar
  opus_menu_tail.f32   [2, HEAD] the last HEAD samples
  opus_menu_blocks.f32 [2, B, 2] per BLOCK-sample block (the last one
                       shorter): RMS and peak |x| of each channel

The Rust test compares every sample of MENU too when OPUS_FULL_REFERENCE
names opusdec's whole decode of it (69 MB, not stored):
    opusdec --float --rate 48000 MENU /tmp/menu.f32
    OPUS_FULL_REFERENCE=/tmp/menu.f32 cargo test -p stages --lib real_opus -- --nocapture
"""

import hashlib
import json
import math
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MENU = "/usr/share/games/warzone2100/music/menu.opus"
HEAD = 24_000  # 0.5 s at 48 kHz
BLOCK = 4_800  # 0.1 s


def opusdec(path):
    """(channels, planar samples as lists) of opusdec's float decode."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.f32")
        subprocess.run(["opusdec", "--quiet", "--float", "--rate", "48000", path, out], check=True)
        with open(out, "rb") as f:
            raw = f.read()
    channels = opus_channels(path)
    values = struct.unpack(f"<{len(raw) // 4}f", raw)
    return [list(values[c::channels]) for c in range(channels)]


def opus_channels(path):
    """The OpusHead's channel count (first page, first packet)."""
    with open(path, "rb") as f:
        page = f.read(4096)
    assert page[:4] == b"OggS"
    packet = page[27 + page[26]:]
    assert packet[:8] == b"OpusHead", path
    return packet[9]


def write_f32(name, planes):
    with open(os.path.join(HERE, name), "wb") as f:
        for plane in planes:
            f.write(struct.pack(f"<{len(plane)}f", *plane))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def version(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    return (done.stdout + done.stderr).strip().splitlines()[0]


def main():
    meta = {
        "opusdec": version(["opusdec", "--version"]),
        "command": "opusdec --quiet --float --rate 48000 FILE out.f32",
    }

    tone = opusdec(os.path.join(HERE, "tone_opus.opus"))
    write_f32("opus_tone.f32", tone)
    meta["tone_opus.opus"] = {"channels": len(tone), "frames": len(tone[0])}

    menu = opusdec(MENU)
    frames = len(menu[0])
    write_f32("opus_menu_head.f32", [c[:HEAD] for c in menu])
    write_f32("opus_menu_tail.f32", [c[frames - HEAD:] for c in menu])
    blocks = []
    for c in menu:
        stats = []
        for start in range(0, frames, BLOCK):
            block = c[start:start + BLOCK]
            stats.append(math.sqrt(math.fsum(x * x for x in block) / len(block)))
            stats.append(max(abs(x) for x in block))
        blocks.append(stats)
    write_f32("opus_menu_blocks.f32", blocks)
    meta["menu"] = {
        "path": MENU,
        "package": "warzone2100-music",
        "bytes": os.path.getsize(MENU),
        "sha256": sha256(MENU),
        "channels": len(menu),
        "frames": frames,
        "head": HEAD,
        "block": BLOCK,
        "blocks": math.ceil(frames / BLOCK),
    }

    with open(os.path.join(HERE, "opus_reference.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
