"""The module drs-compliance-suite 1.0.3 imports from its repository's root, which its wheel does not ship."""

SUPPORTED_DRS_VERSIONS = ["1.2.0"]
