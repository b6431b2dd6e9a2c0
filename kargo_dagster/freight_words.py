"""The word lists that turn a Freight ID into a readable alias.

``kargo_dagster.freight`` picks one adjective and one animal from these tuples by indexing
them with bytes of the Freight ID, so the alias of a given Freight depends on the exact
contents and order of both tuples. **Never edit them**: the alias was the partition key
before keys showed versions, and Freight recorded then is still found by its alias; adding,
removing or reordering a word would lose those partitions, and the Warehouse sensor would
record known Freight again. Every word is short, lowercase ASCII (``[a-z]+``), unique, and
inoffensive.

Kargo itself picks a random, project-unique alias with the ``moniker`` library; this project
needs the alias to be a pure function of the ID instead, because old partition keys are it.
"""

ADJECTIVES: tuple[str, ...] = (
    "able", "agile", "amber", "ample", "azure", "bold", "brave", "breezy", "bright", "brisk",
    "calm", "candid", "cheery", "civil", "clever", "cosmic", "cozy", "crisp", "curious",
    "dapper", "daring", "dashing", "deft", "eager", "early", "earnest", "easy", "epic", "fair",
    "fancy", "fast", "fearless", "festive", "fluent", "fond", "frank", "free", "fresh",
    "friendly", "frosty", "gentle", "giddy", "glad", "golden", "grand", "happy", "hardy",
    "hearty", "honest", "humble", "jolly", "jovial", "keen", "kind", "lively", "loyal", "lucid",
    "lucky", "merry", "mellow", "mighty", "modest", "neat", "nimble", "noble", "patient",
    "peppy", "placid", "plucky", "polite", "proud", "quick", "quiet", "rapid", "ready", "regal",
    "robust", "rosy", "rustic", "sincere", "smart", "snappy", "snug", "solid", "spry", "steady",
    "sturdy", "sunny", "swift", "tidy", "trusty", "upbeat", "valiant", "vivid", "warm", "wise",
    "witty", "zany", "zesty", "zippy",
)  # fmt: skip

ANIMALS: tuple[str, ...] = (
    "alpaca", "antelope", "badger", "beaver", "bison", "bobcat", "buffalo", "camel", "caribou",
    "cheetah", "condor", "cougar", "coyote", "crane", "cricket", "dingo", "dolphin", "donkey",
    "dove", "duck", "eagle", "egret", "elk", "emu", "falcon", "ferret", "finch", "fox",
    "gazelle", "gecko", "gerbil", "gibbon", "giraffe", "gopher", "gorilla", "grouse", "hamster",
    "hare", "hawk", "hedgehog", "heron", "hippo", "ibis", "iguana", "impala", "jackal", "jaguar",
    "kestrel", "kiwi", "koala", "lemur", "leopard", "lion", "llama", "lynx", "macaw", "magpie",
    "manatee", "marmot", "meerkat", "mink", "mole", "moose", "narwhal", "newt", "ocelot",
    "octopus", "okapi", "orca", "osprey", "otter", "owl", "panda", "panther", "parrot",
    "pelican", "penguin", "pigeon", "puffin", "puma", "quail", "quokka", "rabbit", "raccoon",
    "raven", "robin", "salmon", "seal", "sparrow", "squirrel", "stork", "swan", "tapir", "tiger",
    "toucan", "turtle", "walrus", "wombat", "yak", "zebra",
)  # fmt: skip
