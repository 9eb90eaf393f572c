"""Writes one "## " section of BENCHMARKS.md: replaces the section with the
same heading, or appends it, leaving every other section as it was."""

import os

PREAMBLE = (
    "# Benchmarks\n\n"
    "Each section is written by its script; numbers from one run on a noisy "
    "2-core machine, so compare ratios within a section.\n\n"
)


def write_section(path, section):
    heading = section.split("\n", 1)[0]
    text = open(path).read() if os.path.exists(path) else PREAMBLE
    start = text.find(heading + "\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)
    print(section)
