"""The Faust worker (faust-streaming, the design card's runtime) and the two patches it needs.

``producer_flush`` bounds how long a commit waits on the changelog producer; ``resume_after_seek``
resumes the stream partitions Faust leaves paused after a rebalance. Both are described in docs/explanation/delivery.md.
"""
