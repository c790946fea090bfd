"""受理事典: the hall's services and sub-items, their materials and the 一次性告知 notice, and search terms."""
