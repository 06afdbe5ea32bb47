"""What `Pulumi.yaml` (`main: seifer_iac/pulumi_program`) runs: the program in program.py."""

from seifer_iac.pulumi_program.program import main

pipeline = main()
