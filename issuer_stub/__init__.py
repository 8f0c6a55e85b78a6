"""A test issuer for ML1: the ministry (trust anchor), universities (issuers) and a wallet.

It produces real, signed data with the same formats the verifier checks, for tests, the
demo, the benchmarks and field testers. It is not production issuing software.
"""
