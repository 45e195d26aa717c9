from speeddata.cli import main

main()
