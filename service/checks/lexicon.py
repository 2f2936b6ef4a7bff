"""Word lists of the ``name`` check: the ordinary English words that a translation of Hindi news capitalizes (titles,
institutions, the first word of a sentence), the acronyms of titles and institutions, English names of countries
and peoples that are no transliteration of their Hindi names, and the Hindi words too common to stand for a name.

A word here is never checked as a name; a word missing here is checked, and passes when the source has it
transliterated. So the lists need only the words an English translation uses for a *Hindi* word: Minister for
मंत्री, Court for अदालत.
"""

# Words that begin sentences or stand capitalized in titles of works and organisations.
FUNCTION_WORDS = """
a an the this that these those there here it its he she him her his hers they them their we us our you your i me my
mine who whom whose which what when where why how whatever whoever whichever
in on at by for from to with within without into onto upon of off over under above below between among amid amidst
around about across along against after before during since until till through throughout toward towards beyond
behind beside besides near inside outside via per than as like unlike despite except including regarding
and but or nor so yet also too either neither both each every all any some many much more most few fewer less least
several such other another same own only even just still already again ever never always often sometimes once
if unless although though because while whereas whether whenever wherever since lest
not no yes nothing none nobody everyone everybody someone somebody anyone anything everything something
however meanwhile moreover furthermore therefore thus hence then now later earlier today yesterday tomorrow tonight
recently currently finally firstly secondly lastly instead rather otherwise indeed nevertheless nonetheless
according accordingly apart additionally likewise similarly overall altogether further besides
be is are was were been being am has have had having do does did done will would shall should can could may might
must ought let lets
said says say told tells asked added noted stated claimed alleged informed explained revealed warned urged announced
reported confirmed denied replied appealed demanded directed ordered
after before upon following due amid regarding
mr mrs ms miss dr prof sir madam shri smt sushri kumari
yesterday today tomorrow morning evening night afternoon noon midnight week month year years day days
first second third last next previous new old former latter late
big small large great high low long short good bad best worst better worse top bottom full half whole
north south east west northern southern eastern western central upper lower middle
well very really quite almost nearly about approximately around roughly
please thank thanks welcome dear
anti pre post non ex co vice sub inter intra self mid multi semi pro
""".split()

# Titles, offices and ranks (Prime Minister for प्रधानमंत्री, Collector for कलेक्टर/जिलाधिकारी).
TITLES = """
president vice prime chief deputy minister ministers union cabinet state home finance external foreign defence defense
governor lieutenant lt speaker chairman chairperson chairwoman chair member members secretary general additional
joint principal under commissioner collector magistrate superintendent inspector sub constable officer officers
director directors manager head leader leaders spokesperson spokesman spokeswoman mayor councillor councilor
corporator sarpanch mla mlas mp mps mlc mlcs judge judges justice justices bench chief advocate attorney solicitor
counsel lawyer prosecutor registrar auditor comptroller ambassador envoy consul commissioner general admiral marshal
colonel major captain lieutenant brigadier commander commandant sergeant havildar soldier jawan jawans
professor vice-chancellor chancellor dean teacher principal doctor doctors surgeon nurse engineer scientist
king queen prince princess emperor empress lord lady saint sage priest bishop pope imam maulvi pandit
actor actress singer director producer star player players coach captain umpire referee batsman bowler
""".split()

# Institutions, bodies, places of office and the ordinary words of their English names.
INSTITUTIONS = """
government governments ministry ministries department departments office offices secretariat directorate bureau
commission committee committees council councils board boards authority authorities agency agencies corporation
corporations organisation organization organisations organizations institute institutes institution institutions
foundation trust society association federation union unions confederation chamber chambers league
court courts supreme high district sessions session family consumer tribunal tribunals bench
parliament assembly assemblies legislative legislature house houses senate congress cabinet constituency
constituencies ward wards panchayat municipal municipality nagar city town village villages block blocks tehsil
division circle zone zones region regions state states national international central federal local regional rural
urban public private general special
police station stations army navy air force forces guard guards border security reserve armed paramilitary
intelligence investigation crime branch cell squad unit task team teams battalion regiment command
election elections electoral poll polls vote votes voter voters ballot
bank banks reserve exchange stock market markets fund funds company companies limited ltd pvt private industries
industry enterprise enterprises group groups corporation co inc
university universities college colleges school schools academy campus hospital hospitals medical clinic centre
center centres centers health education science sciences technology research laboratory library museum
railway railways rail road roads highway highways expressway express airport airports port ports metro station
transport transportation aviation civil shipping water power energy electricity coal steel oil gas petroleum
agriculture farmers farmer food consumer affairs women child children welfare development rural urban housing
environment forest forests climate wildlife tourism culture sports youth labour labor employment commerce trade
finance revenue tax taxes income customs excise budget economic economy planning statistics census survey
information broadcasting communication communications telecom telecommunications digital cyber internet
law laws justice rights human civil social tribal minority minorities backward classes scheduled castes tribes
disaster management relief rescue emergency response fire brigade
act acts bill bills code section sections article articles clause amendment amendments constitution rules rule
order orders ordinance notification policy policies scheme schemes mission programme program project projects
plan campaign yojana
party parties front alliance coalition opposition ruling
temple temples mosque mosques church churches gurudwara shrine monastery fort palace gate tower bridge dam canal
lake river rivers sea ocean bay gulf island islands coast valley hill hills mountain mountains peak desert forest
park garden gardens zoo stadium ground hall square market bazaar lane street colony sector phase
day days week festival fair celebration anniversary jubilee year new eve independence republic
cup trophy championship championships tournament series league match matches test final finals semi semifinal
quarterfinal round olympic olympics games world asian commonwealth medal medals gold silver bronze title
award awards prize prizes honour honor ratna bhushan shri
report reports index inflation gdp growth rupee rupees dollar dollars
east west north south northeast northwest southeast southwest
programme programmes labour centre centres metre metres kilometre kilometres litre litres tonne tonnes jewellery
""".split()

# Acronyms of titles and institutions that a translation writes where the source spells the words out.
ACRONYMS = """
pm cm dm sp ssp asp sdm sho dgp igp ig adg dig ias ips ifs irs cji sc st obc ews nri mla mlas mp mps mlc
cbi ed nia rbi sbi isro drdo imd ugc ncert cbse neet jee upsc ssc aiims iit iim nhai bsf crpf cisf itbp ssb ndrf sdrf
nsg iaf ncb ib raw cag ngt nhrc ncw ec eci sec evm evms vvpat fir pil sit ngo ngos
un uno who imf wto nato eu g20 g7 brics saarc asean uae usa uk us
gdp gst gst tds emi upi atm ipo sebi nse bse lic epfo pf
ac bjp inc nda upa
km kms kg cm mm ft sq rs inr usd ist am pm hrs no nos
msp pmo cmo ncr loc lac mou ceo cfo cmd md ats stf sog pwd bpl apl mgnrega mnrega kyc pan otp pocso ipc crpc bns bnss
cpc fdi msme msmes psu psus npa npas cpi wpi iip fy ncrb nsso niti cii ficci assocham dgca faa icc bcci fifa ioc ipl
isl odi odis t20 t20i ai it iot ev evs lpg cng png covid dna hiv tb icu opd ot ct mri ecg bp
ngo ngos rti pds fci nabard sidbi irdai pfrda amc nbfc nbfcs etf sip ulip
""".split()

# English names whose Hindi is no transliteration (folded Hindi forms: see tokens.fold): India for भारत, Egypt
# for मिस्र, and peoples, faiths and languages whose adjective is no transliteration either.
EXONYMS = {
    "india": "भारत भारतीय भारतीयों इंडिया हिंदुस्तान हिन्दुस्तान हिंदुस्तानी",
    "indian": "भारत भारतीय भारतीयों इंडियन हिंदुस्तानी",
    "indians": "भारतीय भारतीयों हिंदुस्तानी",
    "us": "अमेरिका अमेरिकी अमरीका अमरीकी यूएस यूएसए",
    "usa": "अमेरिका अमेरिकी अमरीका यूएसए",
    "america": "अमेरिका अमेरिकी अमरीका",
    "american": "अमेरिका अमेरिकी अमरीकी अमेरिकन",
    "americans": "अमेरिकी अमेरिकियों अमरीकी",
    "uk": "ब्रिटेन ब्रिटिश इंग्लैंड यूके",
    "britain": "ब्रिटेन ब्रिटिश",
    "british": "ब्रिटेन ब्रिटिश अंग्रेज अंग्रेजों अंग्रेजी",
    "english": "अंग्रेजी अंग्रेज इंग्लिश",
    "england": "इंग्लैंड",
    "china": "चीन चीनी",
    "chinese": "चीन चीनी",
    "egypt": "मिस्र मिस्री",
    "egyptian": "मिस्र मिस्री",
    "greece": "यूनान ग्रीस",
    "greek": "यूनान यूनानी ग्रीक",
    "germany": "जर्मनी",
    "german": "जर्मनी जर्मन",
    "france": "फ्रांस",
    "french": "फ्रांस फ्रांसीसी फ्रेंच",
    "dutch": "नीदरलैंड नीदरलैंड्स डच",
    "swiss": "स्विट्जरलैंड स्विस",
    "christian": "ईसाई क्रिश्चियन",
    "christians": "ईसाई ईसाइयों क्रिश्चियन",
    "muslims": "मुस्लिम मुस्लिमों मुसलमान मुसलमानों",
    "hindus": "हिंदू हिंदुओं हिन्दू हिन्दुओं",
    "sikhs": "सिख सिखों",
    "god": "भगवान ईश्वर प्रभु अल्लाह",
    "goddess": "देवी माता",
    "europe": "यूरोप यूरोपीय",
    "european": "यूरोप यूरोपीय",
    "arab": "अरब अरबी",
    "arabia": "अरब",
    "ganges": "गंगा",
    "himalayas": "हिमालय",
    "kashi": "काशी वाराणसी बनारस",
    "varanasi": "वाराणसी काशी बनारस",
    "bombay": "मुंबई बंबई",
    "mumbai": "मुंबई बंबई",
    "calcutta": "कोलकाता कलकत्ता",
    "kolkata": "कोलकाता कलकत्ता",
    "madras": "चेन्नई मद्रास",
    "chennai": "चेन्नई मद्रास",
    "bangalore": "बेंगलुरु बेंगलुरू बंगलौर बैंगलोर",
    "bengaluru": "बेंगलुरु बेंगलुरू बंगलौर बैंगलोर",
    "odisha": "ओडिशा उड़ीसा",
    "orissa": "ओडिशा उड़ीसा",
    "gurgaon": "गुरुग्राम गुड़गांव",
    "gurugram": "गुरुग्राम गुड़गांव",
    "prayagraj": "प्रयागराज इलाहाबाद",
    "allahabad": "प्रयागराज इलाहाबाद",
    "jammu": "जम्मू",
    "nda": "एनडीए राजग",
    "india bloc": "इंडिया",
}

# Hindi words too common to stand for a name (postpositions, pronouns, auxiliaries): their transliterations are so
# short ("से", "se") that they would pass for any short English name (Sen, Shah).
HINDI_COMMON = """
का के की को में से ने पर तक भी ही तो था थे थी है हैं हो हुआ हुए हुई गए गई कर करने करते किया किए कि और या व एवं
यह वह ये वे इस उस इन उन इसे उसे इसके उसके इनके उनके इसकी उसकी उनकी उन्होंने इसमें उसमें जो जिस जिन कुछ कई सभी सब
लिए साथ बाद पहले अब जब तब यहां वहां नहीं न ना रहा रहे रही रहें जा जाने जाता जाती जाते होगा होगी होंगे दिया दी दिए
एक दो अपने अपनी अपना आज कल बहुत बड़ा बड़ी बड़े साल समय लोग लोगों बात बार
""".split()
