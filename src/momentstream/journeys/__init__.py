"""Journey maps of a value cohort: how the best customers' relationships were built, and who is on the way.

Offline, beside discovery (whose history reader, outcome expressions and statistics it shares): the top
customers by value against the rest, over their first days; the steps and pairs of steps that tell them
apart, chosen on earlier customers and tested on later ones; the typical paths as a picture; and the best
early indicator as a moments file the engine runs.
"""
