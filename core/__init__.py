"""The Accord kernel: settings, plugins, database, migrations, security, partners, CLI.

The kernel knows no business area; every area is a plugin (DESIGN rule 1).
"""
