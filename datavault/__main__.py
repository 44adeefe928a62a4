from datavault.cli import main

main(prog_name="datavault")
