"""Data-parallel training: which engine runs a spec's ``distribute`` section, and each process's part in it.

``cluster`` decides the backend and the cluster before Keras loads; ``engines`` sets up the
engine and returns a ``placement``; ``sharing``, ``collectives`` and ``workers`` say what each
process reads, how the processes agree, and where each writes.
"""
