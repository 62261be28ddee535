"""The rule language: how rules are written (spec), checked and compiled (compile, operators),
and matched against items (match), over normalised text (text)."""
