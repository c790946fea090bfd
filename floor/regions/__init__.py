"""A region's halls seen together: who answers for a region, its live overview (区域总览) and its roll-up reports."""
