from burstlab.cli import main

main()
