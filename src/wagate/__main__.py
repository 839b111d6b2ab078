from wagate.cli import app

app(prog_name="wagate")
