"""`python -m seifer_iac.cli` is `seifer` (handy where the console script is not on PATH)."""

from seifer_iac.cli.main import main

main()
