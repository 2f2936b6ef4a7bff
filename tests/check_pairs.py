"""Hindi news passages with faithful English translations and summaries, written for the checks' tests; and the same
with one error injected. Each correct pair must give review "ok"; each injected error a finding of its check, in
its place."""

CORRECT = {
    "package": dict(
        source="केंद्र सरकार ने किसानों के लिए 2.5 लाख करोड़ रुपये के पैकेज की घोषणा की है। वित्त मंत्री निर्मला "
        "सीतारमण ने बताया कि इससे देश के 11 करोड़ किसानों को फायदा होगा।",
        translation="The central government has announced a package of Rs 2.5 lakh crore for farmers. Finance Minister "
        "Nirmala Sitharaman said that 11 crore farmers of the country will benefit from this.",
        summary={"hi": "केंद्र ने किसानों के लिए 2.5 लाख करोड़ रुपये का पैकेज घोषित किया, जिससे 11 करोड़ किसानों को "
                 "फायदा होगा।",
                 "en": "The Centre announced a package of Rs 2.5 trillion for farmers, which will benefit 110 million "
                 "farmers."},
    ),
    "rain": dict(
        source="मौसम विभाग ने अगले पांच दिनों तक दिल्ली में भारी बारिश की चेतावनी जारी की है। विभाग के अनुसार 15 अगस्त "
        "को तापमान 32 डिग्री सेल्सियस तक पहुंच सकता है।",
        translation="The Meteorological Department has issued a warning of heavy rain in Delhi for the next five days. "
        "According to the department, the temperature may reach 32 degrees Celsius on August 15.",
    ),
    "cricket": dict(
        source="भारतीय क्रिकेट टीम ने तीसरे टेस्ट मैच में इंग्लैंड को 106 रनों से हरा दिया। कप्तान रोहित शर्मा ने 131 "
        "रन बनाए, जबकि जसप्रीत बुमराह ने छह विकेट लिए।",
        translation="The Indian cricket team defeated England by 106 runs in the third Test match. Captain Rohit "
        "Sharma scored 131 runs, while Jasprit Bumrah took six wickets.",
        summary={"en": "India beat England by 106 runs; Bumrah took six wickets and Rohit Sharma scored 131."},
    ),
    "cyber": dict(
        source="पुलिस ने साइबर ठगी के मामले में 3 आरोपियों को गिरफ्तार किया है। शिकायत के लिए लोग cybercrime.gov.in पर "
        "जा सकते हैं या helpdesk@cybercrime.gov.in पर ईमेल कर सकते हैं।",
        translation="Police have arrested 3 accused in the case of cyber fraud. People can visit cybercrime.gov.in or "
        "email helpdesk@cybercrime.gov.in to lodge a complaint.",
    ),
    "turnout": dict(
        source="चुनाव आयोग ने बताया कि पहले चरण में 64 प्रतिशत मतदान हुआ। राज्य की 80 सीटों पर 7 चरणों में वोट डाले "
        "जाएंगे और मतगणना 4 जून को होगी।",
        translation="The Election Commission said that 64% voting took place in the first phase. Votes will be cast in "
        "7 phases on 80 seats of the state and counting will be held on June 4.",
        summary={"hi": "पहले चरण में 64 फीसदी मतदान हुआ; मतगणना 4 जून को होगी।",
                 "en": "64 percent voting was recorded in the first phase; counting will be on 4 June."},
    ),
    "devanagari digits": dict(
        source="राज्य में कोरोना के १,४५० नए मामले सामने आए हैं, जबकि २४ घंटों में ३ मरीजों की मौत हुई।",
        translation="1,450 new cases of Corona have come to light in the state, while 3 patients died in 24 hours.",
    ),
    "visit": dict(
        source="प्रधानमंत्री नरेंद्र मोदी बुधवार सुबह 10:30 बजे वाराणसी पहुंचेंगे और 1,200 करोड़ रुपये की परियोजनाओं "
        "का उद्घाटन करेंगे।",
        translation="Prime Minister Narendra Modi will reach Varanasi at 10:30 am on Wednesday and inaugurate projects "
        "worth Rs 1,200 crore.",
        summary={"en": "PM Modi will inaugurate projects worth Rs 12 billion in Varanasi on Wednesday."},
    ),
    "accident": dict(
        source="हादसे में पांच लोगों की मौत हो गई और बारह लोग घायल हुए। घायलों को जिला अस्पताल में भर्ती कराया गया है।",
        translation="Five people died and twelve were injured in the accident. The injured have been admitted to the "
        "district hospital.",
        summary={"hi": "हादसे में 5 लोगों की मौत, 12 घायल।", "en": "5 killed, 12 injured in the accident."},
    ),
    "budget tweet": dict(
        source="मुख्यमंत्री ने @myogiadityanath हैंडल से ट्वीट कर #UPBudget2024 की जानकारी दी। बजट में 7.36 लाख करोड़ "
        "रुपये का प्रावधान है।",
        translation="The Chief Minister tweeted from the handle @myogiadityanath and gave information about "
        "#UPBudget2024. The budget has a provision of Rs 7.36 lakh crore.",
    ),
    "repo rate": dict(
        source="रिजर्व बैंक ने रेपो रेट 6.5 प्रतिशत पर बरकरार रखा है। गवर्नर शक्तिकांत दास ने कहा कि चालू वित्त वर्ष "
        "में जीडीपी वृद्धि दर 7 प्रतिशत रहने का अनुमान है।",
        translation="The Reserve Bank has kept the repo rate unchanged at 6.5 percent. Governor Shaktikanta Das said "
        "that the GDP growth rate is estimated to be 7 percent in the current financial year.",
        summary={"hi": "रिजर्व बैंक ने रेपो रेट 6.5 प्रतिशत पर बरकरार रखा।",
                 "en": "The Reserve Bank kept the repo rate at 6.5%, Governor Shaktikanta Das said."},
    ),
    "republic day": dict(
        source="देश 26 जनवरी को 75वां गणतंत्र दिवस मनाएगा। इस बार फ्रांस के राष्ट्रपति इमैनुएल मैक्रों मुख्य "
        "अतिथि होंगे।",
        translation="The country will celebrate its 75th Republic Day on January 26. This time French President "
        "Emmanuel Macron will be the chief guest.",
    ),
    "schools": dict(
        source="राज्य सरकार ने तीन करोड़ रुपये की लागत से 50 नए स्कूल बनाने का फैसला किया है।",
        translation="The state government has decided to build 50 new schools at a cost of three crore rupees.",
        summary={"en": "The state will build 50 schools for Rs 30 million."},
    ),
    "board results": dict(
        source="इस साल राज्य में 1,45,000 छात्रों ने बोर्ड परीक्षा दी, जिनमें से 92.5 प्रतिशत पास हुए।",
        translation="This year 145,000 students appeared for the board examination in the state, of which 92.5 per "
        "cent passed.",
    ),
    "cold wave": dict(
        source="मौसम विभाग के मुताबिक अगले 2-3 दिनों में तापमान 4 से 6 डिग्री तक गिर सकता है।",
        translation="According to the Meteorological Department, the temperature may drop by 4 to 6 degrees in the "
        "next 2-3 days.",
    ),
    "power cut": dict(
        source="शनिवार शाम 5 बजे से रविवार सुबह 6 बजे तक शहर में बिजली आपूर्ति बंद रहेगी।",
        translation="Power supply will remain suspended in the city from 5 pm on Saturday to 6 am on Sunday.",
    ),
    "bridge": dict(
        source="पुल के निर्माण पर ढाई करोड़ रुपये खर्च होंगे और इसे डेढ़ साल में पूरा किया जाएगा।",
        translation="Rs 2.5 crore will be spent on the construction of the bridge and it will be completed in one "
        "and a half years.",
    ),
    "hearing": dict(
        source="सुप्रीम कोर्ट ने मंगलवार को इस मामले में केंद्र सरकार से चार हफ्ते में जवाब मांगा है। अगली सुनवाई 12 "
        "मार्च को होगी।",
        translation="The Supreme Court on Tuesday sought a response from the Central Government in four weeks in this "
        "case. The next hearing will be on March 12.",
    ),
    "festival trains": dict(
        source="रेलवे ने त्योहारों के मौसम में 250 विशेष ट्रेनें चलाने का ऐलान किया है। यात्री www.irctc.co.in पर टिकट "
        "बुक कर सकते हैं।",
        translation="The Railways has announced to run 250 special trains during the festive season. Passengers can "
        "book tickets at www.irctc.co.in.",
    ),
    "surgery": dict(
        source="एम्स दिल्ली के डॉक्टरों ने 8 घंटे चली सर्जरी के बाद 3 साल के बच्चे की जान बचाई।",
        translation="Doctors at AIIMS Delhi saved the life of a 3-year-old child after a surgery that lasted 8 hours.",
    ),
    "trade talks": dict(
        source="अमेरिका और चीन के बीच व्यापार वार्ता 10 अक्टूबर से वॉशिंगटन में शुरू होगी।",
        translation="Trade talks between the US and China will begin in Washington from October 10.",
    ),
    "wheat": dict(
        source="कृषि मंत्री ने बताया कि इस साल गेहूं की खरीद 3.2 करोड़ टन तक पहुंच गई है।\nसरकार ने न्यूनतम समर्थन "
        "मूल्य 2,275 रुपये प्रति क्विंटल तय किया है।",
        paragraphs=["The Agriculture Minister said that the procurement of wheat has reached 32 million tonnes this "
                    "year.", "The government has fixed the minimum support price at Rs 2,275 per quintal."],
    ),
    "glossary": dict(
        source="भाजपा विधायक राजेश वर्मा ने कहा कि पार्टी इस बार 370 सीटें जीतेगी।",
        translation="BJP MLA Rajesh Verma said that the party will win 370 seats this time.",
        glossary=[("भाजपा", "BJP"), ("विधायक", "MLA"), ("भारतीय जनता पार्टी", "Bharatiya Janata Party")],
    ),
    "floods": dict(
        source="बिहार में बाढ़ से 12 जिलों के करीब 20 लाख लोग प्रभावित हुए हैं। मुख्यमंत्री नीतीश कुमार ने हवाई "
        "सर्वेक्षण किया और राहत कार्यों की समीक्षा की।",
        translation="About 20 lakh people in 12 districts have been affected by floods in Bihar. Chief Minister Nitish "
        "Kumar conducted an aerial survey and reviewed the relief work.",
        summary={"hi": "बिहार में बाढ़ से 20 लाख लोग प्रभावित; नीतीश कुमार ने हवाई सर्वेक्षण किया।",
                 "en": "Floods in Bihar affected 2 million people; Nitish Kumar conducted an aerial survey."},
    ),
    "housing": dict(
        source="प्रधानमंत्री आवास योजना के तहत अगले पांच साल में 2 करोड़ घर बनाए जाएंगे।",
        translation="Under the Pradhan Mantri Awas Yojana, 2 crore houses will be built in the next five years.",
    ),
    "independence day": dict(
        source="स्वतंत्रता दिवस पर लाल किले से प्रधानमंत्री ने 90 मिनट का भाषण दिया और तीसरी बार तिरंगा फहराया।",
        translation="On Independence Day, the Prime Minister delivered a 90-minute speech from the Red Fort and "
        "hoisted the tricolour for the third time.",
    ),
}

# (pair, field, old, new, check, where): the field is "translation", "paragraphs[i]" or "summary.hi"/"summary.en".
INJECTED = [
    ("package", "translation", "11 crore", "12 crore", "number", "translation"),
    ("rain", "translation", "August 15", "August 16", "number", "translation"),
    ("rain", "translation", "five days", "four days", "number", "translation"),
    ("cricket", "translation", "Rohit Sharma", "Virat Kohli", "name", "translation"),
    ("cyber", "translation", "helpdesk@cybercrime.gov.in", "helpdesk@cyber.gov.in", "placeholder", "translation"),
    ("cyber", "translation", "visit cybercrime.gov.in or ", "", "placeholder", "translation"),
    ("turnout", "translation", "64%", "46%", "number", "translation"),
    ("devanagari digits", "translation", "1,450", "1,540", "number", "translation"),
    ("visit", "translation", "10:30 am", "11:30 am", "number", "translation"),
    ("visit", "translation", "Rs 1,200 crore", "Rs 1,200 lakh", "number", "translation"),
    ("accident", "translation", "district hospital.", "district hospital the district hospital the district "
     "hospital the district hospital.", "repetition", "translation"),
    ("budget tweet", "translation", "#UPBudget2024", "#UPBudget", "placeholder", "translation"),
    ("repo rate", "summary.en", "6.5%", "5.5%", "number", "summary.en"),
    ("repo rate", "summary.hi", "6.5 प्रतिशत", "7.5 प्रतिशत", "number", "summary.hi"),
    ("republic day", "translation", "Emmanuel Macron", "Joe Biden", "name", "translation"),
    ("schools", "summary.en", "Rs 30 million", "Rs 300 million", "number", "summary.en"),
    ("board results", "translation", "92.5 per cent", "95.2 per cent", "number", "translation"),
    ("power cut", "translation", "Saturday", "Friday", "number", "translation"),
    ("bridge", "translation", "Rs 2.5 crore", "Rs 2.5 lakh", "number", "translation"),
    ("hearing", "translation", "March 12", "May 12", "number", "translation"),
    ("festival trains", "translation", "Passengers can", "यात्री can", "untranslated", "translation"),
    ("surgery", "translation", "3-year-old child", "3-year-old <unk> child", "artifact", "translation"),
    ("wheat", "paragraphs[1]", "Rs 2,275", "Rs 2,575", "number", "translation.paragraphs[1]"),
    ("glossary", "translation", "BJP MLA", "BJP legislator", "glossary", "translation"),
    ("floods", "summary.en", "Nitish Kumar", "Tejashwi Yadav", "name", "summary.en"),
    ("floods", "summary.hi", "20 लाख", "25 लाख", "number", "summary.hi"),
    ("trade talks", "translation", "Trade talks between the US and China will begin in Washington from October 10.",
     "", "empty", "translation"),
    ("housing", "translation", "2 crore houses", "20 lakh houses", "number", "translation"),
    ("independence day", "translation", "third time", "second time", "number", "translation"),
    ("accident", "summary.hi", "12 घायल", "12 घायल\ufffd", "artifact", "summary.hi"),
    ("turnout", "summary.en", "4 June", "14 June", "number", "summary.en"),
]


def checks_input(name: str) -> dict:
    """The pair's keyword arguments for ``run_checks``."""
    pair = CORRECT[name]
    return {key: value for key, value in pair.items()}


def injected_input(name: str, field: str, old: str, new: str) -> dict:
    arguments = {key: (dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value)
                 for key, value in checks_input(name).items()}  # fmt: skip
    if field.startswith("summary."):
        language = field.split(".")[1]
        assert old in arguments["summary"][language], (name, old)
        arguments["summary"][language] = arguments["summary"][language].replace(old, new, 1)
    elif field.startswith("paragraphs["):
        i = int(field[len("paragraphs[") : -1])
        assert old in arguments["paragraphs"][i], (name, old)
        arguments["paragraphs"][i] = arguments["paragraphs"][i].replace(old, new, 1)
    else:
        assert old in arguments[field], (name, old)
        arguments[field] = arguments[field].replace(old, new, 1)
    return arguments
