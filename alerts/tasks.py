from alerts import services


def prune_deliveries():
    return services.prune_deliveries()
