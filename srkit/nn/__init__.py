"""Networks: building registered ones so they remember how, the bicubic baseline, pixel losses."""
