"""Capability discovery on the executor, as codex 0.171 does it: skill and plugin
files under chosen roots (:mod:`.roots`), the skills installed in fixed places
(:mod:`.installed`), and the skill front matter they carry (:mod:`.frontmatter`).
Blocking file I/O, no trio: call from a worker thread."""
