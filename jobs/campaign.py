"""Campaigns (``conf/campaigns/<name>.yaml``): ``plan NAME`` (the audience with a hash-assigned
control group, the minimum detectable lift, the treatment export), ``measure NAME`` (the
lift per segment, after the attribution window), ``due`` (both, for every campaign whose day
it is) and ``uplift`` (the uplift model, from the measured campaigns).

Run it on one machine (after ``make setup``)::

    spark-submit --jars "$(ls .jars/delta/*.jar | paste -sd,)" \
        jobs/campaign.py --conf conf/local.yaml plan winback

and on a cluster, with the library shipped as a zip (``make dist``)::

    spark-submit --master yarn --packages io.delta:delta-spark_4.2_2.13:4.4.0 \
        --py-files dist/lakerec.zip jobs/campaign.py --conf conf/prod.example.yaml plan winback
"""

import sys

from lakerec.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["campaign", *sys.argv[1:]]))
