"""Network devices over SNMP: query, detect vendor/OS/version from rule files, build reports.

Modules: `values` decodes raw SNMP values, `rules` loads and validates rules/snmp/*.yaml,
`detect` turns collected facts into a `Device` (pure functions), `client` talks SNMP with pysnmp's
asyncio API, `targets` reads the inventory file and environment credentials, `sweep` runs many
targets with bounded concurrency, and `command` is `estate-agent snmp`.
"""
