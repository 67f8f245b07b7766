"""One module per command: orchestration only. Actions call the builders and checks,
run processes through runner.run(), and talk to the admin through a console.Console."""
