"""好差评: the five levels, ratings in SQL, and the closed loop of each 差评 case."""
