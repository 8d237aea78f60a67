"""The env families. Each family package registers its ids when rewardgym is imported."""
