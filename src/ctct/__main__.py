from ctct.cli.main import main

main()
