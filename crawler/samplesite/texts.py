"""Vietnamese text pools for the sample site (all NFC, written for this project).

Slots in braces are filled by the generator: {tinh} province, {so}/{so2} numbers,
{pt} a percentage with a decimal comma, {ty} billions of dong, {nam}/{thang} the
article's year and month, {dn} a company, {ten} a person, {nuoc} a country,
{doi}/{doi2} football clubs, {truong} a school, {bv} a hospital.

"Quảng Ninh", "Quảng Nam" and "công nghiệp hỗ trợ" never occur in the generic
pools: they only enter through the themed pools, so the generator knows exactly
which articles mention them.
"""

from __future__ import annotations

PROVINCES = [
    "Hà Nội",
    "Thành phố Hồ Chí Minh",
    "Hải Phòng",
    "Đà Nẵng",
    "Cần Thơ",
    "Bắc Ninh",
    "Thái Nguyên",
    "Nghệ An",
    "Thanh Hóa",
    "Khánh Hòa",
    "Lâm Đồng",
    "Đồng Nai",
    "Bình Dương",
    "Lào Cai",
    "Hà Giang",
    "Điện Biên",
    "Sơn La",
    "Quảng Trị",
    "Thừa Thiên Huế",
    "An Giang",
    "Cà Mau",
    "Vĩnh Phúc",
    "Hưng Yên",
    "Bến Tre",
    "Gia Lai",
    "Đắk Lắk",
    "Hòa Bình",
    "Ninh Bình",
]

COMPANIES = [
    "Công ty cổ phần Cơ khí Đông Anh",
    "Tổng công ty Máy động lực và Máy nông nghiệp",
    "Công ty TNHH Điện tử Hòa Phát",
    "Công ty cổ phần Nhựa Tiền Phong",
    "Tập đoàn Dệt may Việt Nam",
    "Công ty cổ phần Thép Việt Ý",
    "Công ty TNHH Linh kiện Sao Mai",
    "Tổng công ty Điện lực miền Bắc",
]

PEOPLE = [
    "Nguyễn Văn Hùng",
    "Trần Thị Mai",
    "Lê Minh Tuấn",
    "Phạm Quốc Bảo",
    "Hoàng Thu Trang",
    "Vũ Đức Thắng",
    "Đặng Thanh Hải",
    "Bùi Thị Lan",
    "Đỗ Mạnh Cường",
    "Ngô Thị Hạnh",
]

COUNTRIES = [
    "Nhật Bản",
    "Hàn Quốc",
    "Lào",
    "Campuchia",
    "Singapore",
    "Australia",
    "Pháp",
    "Đức",
    "Hoa Kỳ",
    "Ấn Độ",
    "Indonesia",
    "Thái Lan",
]

CLUBS = [
    "Công an Hà Nội",
    "Thép Xanh Nam Định",
    "Hoàng Anh Gia Lai",
    "Becamex Bình Dương",
    "Sông Lam Nghệ An",
    "Đông Á Thanh Hóa",
    "Hải Phòng",
    "Hồng Lĩnh Hà Tĩnh",
]

SCHOOLS = [
    "Trường đại học Bách khoa Hà Nội",
    "Trường trung học phổ thông chuyên Lê Hồng Phong",
    "Đại học Quốc gia Thành phố Hồ Chí Minh",
    "Trường đại học Sư phạm Hà Nội",
    "Trường tiểu học Kim Đồng",
]

HOSPITALS = [
    "Bệnh viện Bạch Mai",
    "Bệnh viện Chợ Rẫy",
    "Bệnh viện Trung ương Huế",
    "Bệnh viện Nhi Trung ương",
    "Bệnh viện Đa khoa tỉnh",
]

AUTHORS = [
    "VĂN CHÚC",
    "THU HÀ",
    "MINH HÀ",
    "TRUNG HƯNG",
    "ĐĂNG KHOA",
    "PHƯƠNG ANH",
    "HOÀNG LINH",
    "NGUYỄN ĐĂNG",
    "QUANG THIỆN",
    "TRẦN HẢI",
    "LÊ ANH",
    "HÀ VĂN ĐẠO",
    "BÍCH LIÊN",
    "THÀNH ĐẠT",
    "NGỌC SƠN",
    "KHÁNH LY",
]

# Sentences any article may borrow.
GENERIC = [
    "Theo kế hoạch, các nội dung trên sẽ được triển khai đồng bộ từ nay đến cuối năm {nam}.",
    "Đây là kết quả của sự vào cuộc quyết liệt của cả hệ thống chính trị và sự đồng thuận của nhân dân.",
    "Lãnh đạo địa phương cho biết sẽ tiếp tục rà soát, tháo gỡ khó khăn, vướng mắc cho người dân và doanh nghiệp.",
    "Nhiều ý kiến cho rằng cần có cơ chế phối hợp chặt chẽ hơn giữa các sở, ngành và chính quyền cơ sở.",
    "Trong {thang} tháng đầu năm, toàn tỉnh {tinh} đã hoàn thành hơn {so2} chỉ tiêu quan trọng.",
    "Đến nay, kết quả bước đầu cho thấy hướng đi đúng đắn, phù hợp với điều kiện thực tế.",
    "Người dân bày tỏ phấn khởi và mong muốn các chính sách sớm đi vào cuộc sống.",
    "Các đại biểu cũng đề xuất nhiều giải pháp thiết thực để nâng cao hiệu quả thực hiện trong thời gian tới.",
    "Bên cạnh kết quả đạt được, vẫn còn một số hạn chế cần được khắc phục kịp thời.",
    "Đồng chí {ten} nhấn mạnh, mọi chính sách phải lấy người dân làm trung tâm, làm chủ thể.",
]

NOTEBOX = [
    "Đường dây nóng tiếp nhận phản ánh của người dân hoạt động 24/24 giờ, kể cả ngày nghỉ, ngày lễ.",
    "Năm {nam}, tỉnh {tinh} đặt mục tiêu tăng trưởng kinh tế đạt từ {pt}% trở lên.",
    "Thông tin chi tiết được đăng tải trên Cổng thông tin điện tử của địa phương.",
    "Mọi đóng góp xin gửi về Ban Bạn đọc, Báo Nhân Dân, số 71 Hàng Trống, Hà Nội.",
]

CAPTIONS = [
    "Quang cảnh hội nghị.",
    "Các đại biểu tham quan khu trưng bày.",
    "Người dân tham gia hoạt động tại địa phương.",
    "Lãnh đạo tỉnh {tinh} trao đổi với doanh nghiệp.",
    "Một góc khu vực sản xuất.",
    "Đoàn công tác kiểm tra tiến độ thi công.",
    "Quang cảnh buổi lễ. (Ảnh: {tacgia})",
    "Đồng chí {ten} phát biểu tại sự kiện.",
    "",
]

# family -> (titles, sapos, sentences)
POOLS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "chinhtri": (
        [
            "Nâng cao hiệu quả công tác dân vận trong tình hình mới",
            "Đồng chí {ten} làm việc với Ban Thường vụ Tỉnh ủy {tinh}",
            "Phát huy vai trò của Mặt trận Tổ quốc trong giám sát và phản biện xã hội",
            "Đẩy mạnh học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
            "Tăng cường xây dựng, chỉnh đốn Đảng ở cơ sở",
            "Kiện toàn tổ chức bộ máy tinh gọn, hoạt động hiệu lực, hiệu quả",
        ],
        [
            "Sáng nay, tại {tinh}, đồng chí {ten} đã chủ trì hội nghị sơ kết công tác {thang} tháng đầu năm {nam}.",
            "Công tác xây dựng Đảng tiếp tục được xác định là nhiệm vụ then chốt, "
            "quyết định thành công của địa phương.",
            "Hội nghị đã thảo luận, thống nhất nhiều giải pháp nhằm nâng cao năng lực lãnh đạo "
            "và sức chiến đấu của tổ chức đảng.",
        ],
        [
            "Đảng bộ tỉnh {tinh} hiện có hơn {so} tổ chức cơ sở đảng với hàng chục nghìn đảng viên.",
            "Công tác kiểm tra, giám sát được tiến hành thường xuyên, đúng quy định.",
            "Nhiều mô hình dân vận khéo được nhân rộng, tạo sức lan tỏa mạnh mẽ trong cộng đồng.",
            "Hội nghị đánh giá cao sự chủ động, sáng tạo của các cấp ủy trong lãnh đạo, chỉ đạo.",
            "Việc sắp xếp tổ chức bộ máy bảo đảm đúng lộ trình, không làm gián đoạn công việc.",
            "Đội ngũ cán bộ được quan tâm đào tạo, bồi dưỡng, nâng cao trình độ chuyên môn.",
            "Các cấp ủy đã kịp thời nắm bắt tâm tư, nguyện vọng của cán bộ, đảng viên và nhân dân.",
            "Đại hội đảng bộ các cấp nhiệm kỳ mới được chuẩn bị chu đáo, đúng hướng dẫn của Trung ương.",
        ],
    ),
    "kinhte": (
        [
            "Xuất khẩu nông sản của {tinh} tăng {pt}% so với cùng kỳ",
            "Tháo gỡ điểm nghẽn về vốn cho doanh nghiệp nhỏ và vừa",
            "Giải ngân vốn đầu tư công: cần quyết liệt hơn trong những tháng cuối năm",
            "Doanh nghiệp {tinh} đẩy mạnh chuyển đổi số để mở rộng thị trường",
            "Giá xăng dầu tiếp tục được điều chỉnh trong kỳ điều hành mới",
            "“Điểm sáng” thu hút đầu tư nước ngoài tại {tinh}",
        ],
        [
            "Trong {thang} tháng năm {nam}, kim ngạch xuất khẩu của {tinh} ước đạt {ty} triệu USD.",
            "Nhiều doanh nghiệp cho biết đơn hàng đã phục hồi rõ nét, song chi phí đầu vào vẫn ở mức cao.",
            "Bộ Tài chính cho biết tỷ lệ giải ngân vốn đầu tư công đến nay đạt khoảng {pt}% kế hoạch.",
        ],
        [
            "Tổng vốn đăng ký mới của các dự án đạt khoảng {ty} tỷ đồng.",
            "Nhiều doanh nghiệp đã chủ động tìm kiếm thị trường mới tại {nuoc}.",
            "Chỉ số sản xuất công nghiệp tăng {pt}% so với cùng kỳ năm trước.",
            "{dn} cho biết đã ký được hợp đồng cung ứng mới trị giá hàng chục triệu USD.",
            "Các chuyên gia khuyến nghị doanh nghiệp cần nâng cao năng lực quản trị và đổi mới công nghệ.",
            "Hoạt động thương mại điện tử tiếp tục tăng trưởng mạnh, trở thành kênh phân phối quan trọng.",
            "Tín dụng đối với các lĩnh vực ưu tiên được các ngân hàng thương mại đẩy mạnh.",
            "Giá nhiều mặt hàng thiết yếu trên thị trường cơ bản ổn định, nguồn cung dồi dào.",
        ],
    ),
    "chungkhoan": (
        [
            "VN-Index tăng điểm phiên thứ {so2} liên tiếp",
            "Khối ngoại bán ròng hơn {ty} tỷ đồng trong phiên cuối tuần",
            "Thị trường chứng khoán giằng co, thanh khoản sụt giảm",
        ],
        [
            "Kết thúc phiên giao dịch, VN-Index tăng {so2},{so2} điểm với thanh khoản đạt hơn {ty} tỷ đồng.",
            "Áp lực bán gia tăng vào cuối phiên khiến các chỉ số chính thu hẹp đà tăng.",
        ],
        [
            "Nhóm cổ phiếu ngân hàng và chứng khoán dẫn dắt thị trường.",
            "Giá trị giao dịch trên sàn HOSE đạt khoảng {ty} tỷ đồng.",
            "Nhà đầu tư nước ngoài tiếp tục bán ròng ở nhóm cổ phiếu vốn hóa lớn.",
            "Các công ty chứng khoán nhận định thị trường có thể tiếp tục biến động trong ngắn hạn.",
            "Độ rộng thị trường nghiêng về phía bên mua với hơn {so} mã tăng giá.",
        ],
    ),
    "xahoi": (
        [
            "Hơn {so} hộ nghèo ở {tinh} được hỗ trợ xóa nhà tạm",
            "Bảo đảm an toàn giao thông dịp nghỉ lễ",
            "Trao tặng quà cho gia đình chính sách tại {tinh}",
            "Nâng cao chất lượng giải quyết việc làm cho lao động nông thôn",
            "Mưa lớn gây ngập úng nhiều tuyến phố",
        ],
        [
            "Chương trình xóa nhà tạm, nhà dột nát đang được {tinh} triển khai quyết liệt, về đích trước kế hoạch.",
            "Lực lượng chức năng đã tăng cường tuần tra, kiểm soát, xử lý nghiêm các trường hợp vi phạm.",
            "Nhiều phần quà ý nghĩa đã được trao tận tay các gia đình có hoàn cảnh khó khăn.",
        ],
        [
            "Mỗi căn nhà được hỗ trợ từ 40 đến 60 triệu đồng từ ngân sách và nguồn xã hội hóa.",
            "Lực lượng cảnh sát giao thông đã xử lý hơn {so} trường hợp vi phạm nồng độ cồn.",
            "Các đoàn viên thanh niên tình nguyện tham gia giúp đỡ người dân khắc phục hậu quả mưa lũ.",
            "Nhiều lao động đã tìm được việc làm ổn định sau khi tham gia các lớp đào tạo nghề.",
            "Chính quyền địa phương đã huy động lực lượng hỗ trợ người dân di dời tài sản đến nơi an toàn.",
            "Hoạt động an sinh xã hội góp phần ổn định đời sống, củng cố niềm tin của nhân dân.",
            "Mô hình “Ngôi nhà chữ thập đỏ” đã giúp nhiều gia đình có nơi ở khang trang, an toàn.",
            "Người dân được hướng dẫn các biện pháp bảo đảm an toàn khi ra đường trong điều kiện mưa lớn.",
        ],
    ),
    "thethao": (
        [
            "{doi} giành chiến thắng thuyết phục trước {doi2}",
            "Đội tuyển Việt Nam tập trung chuẩn bị cho vòng loại",
            "Vận động viên Việt Nam giành huy chương vàng tại giải châu Á",
            "V-League: cuộc đua vô địch nóng lên từng vòng đấu",
        ],
        [
            "Trên sân nhà, {doi} đã có chiến thắng 2-0 trước {doi2} ở vòng {so2} V-League.",
            "Ban huấn luyện đã triệu tập {so2} cầu thủ cho đợt tập trung lần này.",
            "Thành tích này giúp thể thao Việt Nam nâng tổng số huy chương lên con số {so2}.",
        ],
        [
            "Ngay từ những phút đầu, đội chủ nhà đã chủ động kiểm soát thế trận.",
            "Bàn thắng mở tỷ số đến từ một tình huống phối hợp đẹp mắt bên cánh trái.",
            "Huấn luyện viên trưởng hài lòng với tinh thần thi đấu của các học trò.",
            "Các vận động viên đã có quá trình tập luyện nghiêm túc, khoa học.",
            "Người hâm mộ đã lấp kín khán đài để cổ vũ đội nhà.",
            "Với kết quả này, đội bóng vươn lên vị trí thứ {so2} trên bảng xếp hạng.",
            "Ngành thể thao sẽ tiếp tục đầu tư cho các môn thể thao trọng điểm.",
        ],
    ),
    "thegioi": (
        [
            "Việt Nam và {nuoc} tăng cường hợp tác nhiều mặt",
            "Liên hợp quốc kêu gọi tăng cường viện trợ nhân đạo",
            "Kinh tế {nuoc} tăng trưởng chậm lại trong quý gần đây",
            "ASEAN thúc đẩy kết nối kinh tế khu vực",
        ],
        [
            "Hai bên nhất trí tiếp tục làm sâu sắc hơn quan hệ hữu nghị truyền thống và hợp tác toàn diện.",
            "Theo phóng viên thường trú, tình hình khu vực tiếp tục có nhiều diễn biến phức tạp.",
            "Các nhà lãnh đạo đã thông qua tuyên bố chung về hòa bình, ổn định và phát triển.",
        ],
        [
            "Kim ngạch thương mại song phương năm ngoái đạt hơn {so2} tỷ USD.",
            "Phía {nuoc} đánh giá cao vai trò và vị thế ngày càng tăng của Việt Nam.",
            "Các nước thành viên cam kết thúc đẩy thương mại tự do và chuỗi cung ứng bền vững.",
            "Nhiều tổ chức quốc tế cảnh báo rủi ro lạm phát vẫn ở mức cao.",
            "Hội nghị diễn ra trong bối cảnh tình hình thế giới biến động nhanh, khó lường.",
            "Cộng đồng người Việt tại {nuoc} luôn hướng về quê hương, đất nước.",
            "Hai bên cũng trao đổi về các vấn đề quốc tế và khu vực cùng quan tâm.",
        ],
    ),
    "vanhoa": (
        [
            "Lan tỏa giá trị di sản văn hóa phi vật thể",
            "Khai mạc “Tuần lễ áo dài” tại {tinh}",
            "Bảo tồn nghệ thuật hát Then của đồng bào Tày, Nùng",
            "Triển lãm ảnh về Thủ đô Hà Nội thu hút đông đảo khách tham quan",
            "Phục dựng lễ hội truyền thống ở vùng cao",
        ],
        [
            "Chương trình nhằm tôn vinh, gìn giữ và phát huy giá trị văn hóa truyền thống của dân tộc.",
            "Sự kiện quy tụ hàng trăm nghệ nhân, nghệ sĩ đến từ nhiều tỉnh, thành phố.",
            "Nhiều hoạt động văn hóa đặc sắc được tổ chức, thu hút đông đảo người dân và du khách.",
        ],
        [
            "Các nghệ nhân đã truyền dạy cho lớp trẻ những làn điệu cổ.",
            "Triển lãm giới thiệu hơn {so} hiện vật, tư liệu quý.",
            "Nhiều câu lạc bộ văn nghệ quần chúng được thành lập, hoạt động sôi nổi.",
            "Di sản là tài sản vô giá, cần được bảo vệ bằng những cách làm phù hợp.",
            "Lễ hội năm nay có nhiều điểm mới, hấp dẫn du khách trong và ngoài nước.",
            "Ngành văn hóa đã phối hợp với các địa phương xây dựng hồ sơ di sản.",
            "Các sản phẩm văn hóa sáng tạo góp phần quảng bá hình ảnh đất nước, con người Việt Nam.",
        ],
    ),
    "dulich": (
        [
            "{tinh} đón hơn {so} nghìn lượt khách dịp cuối tuần",
            "Phát triển du lịch cộng đồng gắn với bảo tồn bản sắc",
            "Du lịch biển đảo hút khách trong mùa hè",
            "Kích cầu du lịch nội địa bằng nhiều sản phẩm mới",
        ],
        [
            "Tổng thu từ du lịch của {tinh} trong {thang} tháng ước đạt {ty} tỷ đồng.",
            "Nhiều điểm đến đã đầu tư nâng cấp hạ tầng, đa dạng hóa sản phẩm để thu hút du khách.",
            "Các doanh nghiệp lữ hành tung ra nhiều gói ưu đãi hấp dẫn.",
        ],
        [
            "Công suất sử dụng phòng tại các cơ sở lưu trú đạt hơn {pt}%.",
            "Các homestay do người dân địa phương vận hành được du khách đánh giá cao.",
            "Ẩm thực địa phương là điểm nhấn thu hút du khách quay trở lại.",
            "Nhiều tour trải nghiệm nông nghiệp, làng nghề được đưa vào khai thác.",
            "Lực lượng chức năng tăng cường bảo đảm an ninh, an toàn cho du khách.",
            "Lượng khách quốc tế đến từ {nuoc} tăng mạnh so với cùng kỳ.",
            "Hoạt động quảng bá trên nền tảng số giúp điểm đến tiếp cận nhiều du khách trẻ.",
        ],
    ),
    "phapluat": (
        [
            "Khởi tố vụ án buôn lậu quy mô lớn tại {tinh}",
            "Cảnh giác với thủ đoạn lừa đảo qua mạng",
            "Xét xử vụ án vi phạm quy định về đấu thầu",
            "Triệt phá đường dây đánh bạc qua mạng",
        ],
        [
            "Cơ quan cảnh sát điều tra Công an tỉnh {tinh} đã khởi tố vụ án, khởi tố {so2} bị can.",
            "Các đối tượng giả danh cơ quan chức năng để chiếm đoạt tài sản của người dân.",
            "Hội đồng xét xử đã tuyên phạt các bị cáo với tổng mức án hàng chục năm tù.",
        ],
        [
            "Quá trình điều tra xác định số tiền các đối tượng chiếm đoạt lên tới {ty} tỷ đồng.",
            "Cơ quan công an khuyến cáo người dân không cung cấp mã OTP cho bất kỳ ai.",
            "Vụ án đang được tiếp tục mở rộng điều tra, xử lý theo quy định của pháp luật.",
            "Lực lượng Cảnh sát kinh tế đã thu giữ nhiều tang vật liên quan.",
            "Các bị cáo đều thừa nhận hành vi phạm tội như cáo trạng đã truy tố.",
            "Người dân phát hiện dấu hiệu nghi vấn cần báo ngay cho cơ quan công an gần nhất.",
        ],
    ),
    "khcn": (
        [
            "Ứng dụng trí tuệ nhân tạo trong quản lý đô thị",
            "Thúc đẩy hệ sinh thái khởi nghiệp đổi mới sáng tạo",
            "Phát triển hạ tầng số phục vụ chuyển đổi số quốc gia",
            "Các nhà khoa học Việt Nam công bố nghiên cứu mới về vật liệu bán dẫn",
        ],
        [
            "Khoa học, công nghệ và đổi mới sáng tạo được xác định là động lực chính cho tăng trưởng.",
            "Nhiều giải pháp công nghệ do doanh nghiệp Việt phát triển đã được ứng dụng rộng rãi.",
            "Hội thảo thu hút sự tham gia của đông đảo nhà khoa học, chuyên gia trong và ngoài nước.",
        ],
        [
            "Hệ thống đã giúp rút ngắn thời gian xử lý hồ sơ tới {pt}%.",
            "Số lượng doanh nghiệp khởi nghiệp sáng tạo tăng nhanh trong những năm gần đây.",
            "Hạ tầng mạng 5G được mở rộng tới hơn {so} xã, phường.",
            "Các nhà khoa học kiến nghị cần cơ chế tài chính linh hoạt hơn cho nghiên cứu.",
            "Nhiều sản phẩm nghiên cứu đã được thương mại hóa thành công.",
            "Việc bảo đảm an toàn thông tin mạng được đặt lên hàng đầu.",
            "Quỹ phát triển khoa học và công nghệ quốc gia đã tài trợ cho {so} đề tài.",
        ],
    ),
    "moitruong": (
        [
            "Xử lý dứt điểm tình trạng ô nhiễm tại các làng nghề",
            "Trồng mới hơn {so} héc-ta rừng phòng hộ",
            "Chủ động ứng phó với xâm nhập mặn ở đồng bằng sông Cửu Long",
            "Phân loại rác thải tại nguồn: cần sự chung tay của người dân",
        ],
        [
            "Tình trạng ô nhiễm kéo dài đã ảnh hưởng không nhỏ đến sức khỏe và đời sống người dân.",
            "Công tác bảo vệ và phát triển rừng được các cấp, các ngành quan tâm chỉ đạo.",
            "Ngành nông nghiệp và môi trường khuyến cáo người dân chủ động tích trữ nước ngọt.",
        ],
        [
            "Tỷ lệ che phủ rừng của tỉnh {tinh} đạt hơn {pt}%.",
            "Các hệ thống thủy lợi được vận hành linh hoạt để bảo đảm nước tưới.",
            "Nhiều cơ sở sản xuất đã đầu tư hệ thống xử lý nước thải đạt chuẩn.",
            "Người dân được hướng dẫn phân loại rác hữu cơ và rác tái chế.",
            "Chất lượng không khí tại một số khu vực đô thị ở mức kém vào buổi sáng.",
            "Cơ quan chức năng đã xử phạt nhiều trường hợp xả thải vượt quy chuẩn.",
            "Các mô hình sinh kế gắn với bảo vệ môi trường mang lại thu nhập ổn định.",
        ],
    ),
    "giaoduc": (
        [
            "Hơn một triệu thí sinh bước vào kỳ thi tốt nghiệp trung học phổ thông",
            "Nâng cao chất lượng dạy học ngoại ngữ trong nhà trường",
            "{truong} công bố điểm chuẩn năm {nam}",
            "Bảo đảm đủ trường, lớp cho năm học mới",
        ],
        [
            "Kỳ thi năm nay được tổ chức nghiêm túc, an toàn, đúng quy chế.",
            "Ngành giáo dục {tinh} đã chuẩn bị đầy đủ cơ sở vật chất, đội ngũ giáo viên cho năm học mới.",
            "Nhiều ngành học có điểm chuẩn tăng so với năm trước.",
        ],
        [
            "Tỷ lệ học sinh tốt nghiệp đạt hơn {pt}%.",
            "Đội ngũ giáo viên được bồi dưỡng thường xuyên về phương pháp giảng dạy mới.",
            "Nhiều trường học đã ứng dụng công nghệ số trong quản lý và dạy học.",
            "Phụ huynh đánh giá cao sự đổi mới trong cách tổ chức các hoạt động trải nghiệm.",
            "Ngành giáo dục tiếp tục thực hiện chương trình giáo dục phổ thông mới.",
            "Các em học sinh vùng khó khăn được hỗ trợ sách vở, đồ dùng học tập.",
        ],
    ),
    "yte": (
        [
            "Chủ động phòng, chống sốt xuất huyết trong mùa mưa",
            "{bv} thực hiện thành công ca ghép tạng đặc biệt",
            "Nâng cao chất lượng khám, chữa bệnh tại tuyến cơ sở",
            "Tiêm chủng mở rộng: bảo đảm đủ vaccine cho trẻ em",
        ],
        [
            "Số ca mắc sốt xuất huyết trong tuần qua tăng {pt}% so với tuần trước.",
            "Sau ca phẫu thuật, sức khỏe của người bệnh đã ổn định và được xuất viện.",
            "Ngành y tế {tinh} đã triển khai nhiều giải pháp nâng cao sự hài lòng của người bệnh.",
        ],
        [
            "Các bác sĩ khuyến cáo người dân loại bỏ nơi sinh sản của muỗi.",
            "Ca phẫu thuật kéo dài hơn {so2} giờ với sự tham gia của nhiều chuyên khoa.",
            "Trạm y tế xã được đầu tư trang thiết bị, bảo đảm khám, chữa bệnh ban đầu.",
            "Bảo hiểm y tế toàn dân đạt tỷ lệ bao phủ hơn {pt}%.",
            "Người dân cần đến cơ sở y tế ngay khi có biểu hiện sốt cao kéo dài.",
            "Ngành y tế tiếp tục đẩy mạnh chuyển đổi số, triển khai bệnh án điện tử.",
        ],
    ),
}

# Themed pools: the phrases the demo's starter topics look for.
CNHT = (
    [
        "Phát triển công nghiệp hỗ trợ: cần cơ chế đủ mạnh",
        "Doanh nghiệp công nghiệp hỗ trợ tìm cách tham gia chuỗi cung ứng toàn cầu",
        "{tinh} thu hút đầu tư vào công nghiệp hỗ trợ",
        "Nâng cao năng lực cho doanh nghiệp CNHT Việt Nam",
        "Triển lãm quốc tế về công nghiệp hỗ trợ thu hút {so} doanh nghiệp",
    ],
    [
        "Ngành công nghiệp hỗ trợ (CNHT) đang đứng trước cơ hội lớn khi dòng vốn đầu tư dịch chuyển mạnh vào Việt Nam.",
        "Tỷ lệ nội địa hóa thấp là bài toán đặt ra với các doanh nghiệp công nghiệp hỗ trợ trong nước.",
        "Nhiều doanh nghiệp CNHT đã đầu tư dây chuyền hiện đại để đáp ứng tiêu chuẩn của các tập đoàn đa quốc gia.",
    ],
    [
        "Hiện cả nước có khoảng 5.000 doanh nghiệp hoạt động trong lĩnh vực công nghiệp hỗ trợ.",
        "Chỉ khoảng {pt}% doanh nghiệp CNHT trong nước trở thành nhà cung cấp cấp một cho các tập đoàn lớn.",
        "{dn} cho biết đã ký hợp đồng cung ứng linh kiện cho đối tác đến từ {nuoc}.",
        "Chương trình phát triển công nghiệp hỗ trợ giai đoạn mới tập trung vào cơ khí chế tạo, điện tử và dệt may.",
        "Các doanh nghiệp kiến nghị cần có quỹ tín dụng riêng cho lĩnh vực CNHT.",
        "Việc kết nối doanh nghiệp CNHT với các nhà đầu tư nước ngoài được Bộ Công Thương đẩy mạnh.",
    ],
)

CNHT_TRAP = [
    "Tỉnh ưu tiên thu hút đầu tư vào các khu công nghiệp. "
    "Hỗ trợ doanh nghiệp nhỏ và vừa tiếp cận vốn cũng là nhiệm vụ trọng tâm.",
    "Hạ tầng giao thông kết nối được hoàn thiện, tạo thuận lợi cho phát triển công nghiệp. "
    "Hỗ trợ người lao động về nhà ở được các địa phương quan tâm.",
]

QUANG_NINH = (
    [
        "Quảng Ninh đón hơn {so} nghìn lượt khách dịp cuối tuần",
        "Quảng Ninh đẩy mạnh phát triển kinh tế biển xanh",
        "Vịnh Hạ Long thu hút du khách quốc tế",
        "Khu kinh tế Vân Đồn hút vốn đầu tư",
    ],
    [
        "Tỉnh Quảng Ninh đặt mục tiêu trở thành trung tâm du lịch quốc tế, động lực tăng trưởng của khu vực phía bắc.",
        "Với lợi thế về cảng biển và hạ tầng đồng bộ, Quảng Ninh tiếp tục là điểm đến hấp dẫn của nhà đầu tư.",
    ],
    [
        "Trong {thang} tháng, Quảng Ninh đón khoảng {so} nghìn lượt khách quốc tế.",
        "Vịnh Hạ Long, di sản thiên nhiên thế giới, là điểm đến được nhiều du khách lựa chọn.",
        "Khu kinh tế Vân Đồn đã thu hút nhiều dự án có quy mô vốn lớn.",
        "Ủy ban nhân dân tỉnh Quảng Ninh chỉ đạo các sở, ngành tháo gỡ khó khăn cho nhà đầu tư.",
        "Ngành than Quảng Ninh tiếp tục đổi mới công nghệ, bảo đảm an toàn lao động.",
        "Các địa phương ven biển như Móng Cái, Cô Tô đang phát triển mạnh du lịch sinh thái.",
    ],
)

QUANG_NAM = (
    [
        "Quảng Nam bảo tồn đô thị cổ Hội An",
        "Quảng Nam khắc phục hậu quả mưa lũ ở vùng núi",
        "Phát triển cây dược liệu dưới tán rừng ở Quảng Nam",
    ],
    [
        "Tỉnh Quảng Nam đang triển khai nhiều giải pháp bảo tồn di sản gắn với phát triển du lịch bền vững.",
        "Mưa lớn kéo dài đã gây sạt lở nhiều tuyến đường tại các huyện miền núi tỉnh Quảng Nam.",
    ],
    [
        "Phố cổ Hội An mỗi ngày đón hàng nghìn lượt du khách.",
        "Sâm Ngọc Linh là sản phẩm chủ lực của vùng núi Quảng Nam.",
        "Lực lượng chức năng tỉnh Quảng Nam đã khẩn trương khơi thông các tuyến đường bị sạt lở.",
        "Thành phố Tam Kỳ đầu tư chỉnh trang đô thị, nâng cao chất lượng sống của người dân.",
    ],
)

# A sentence added where an article must carry a given feature but its draw did not.
WITH_D = "Đây là nội dung được nhiều bạn đọc quan tâm."
WITH_LEGACY_TONE = "Người dân mong muốn có sức khỏe tốt, cuộc sống hòa thuận, ấm no."

# A sentence an editor adds to a wire copy; no theme word, so the copy matches the topics its original matches.
WIRE_ADDITIONS = [
    "Thông tin chi tiết sẽ tiếp tục được cập nhật.",
    "Phóng viên đang tiếp tục theo dõi diễn biến của sự việc.",
    "Cơ quan chức năng khuyến cáo người dân theo dõi thông tin từ các kênh chính thức.",
    "Đây là lần đầu tiên nội dung này được đưa ra bàn thảo rộng rãi.",
]

TAGS = [
    "Xây dựng Đảng",
    "Dân vận",
    "Bảo vệ Tổ quốc",
    "Hội nghị",
    "Tổ chức bộ máy",
    "Xuất khẩu",
    "Đầu tư công",
    "Doanh nghiệp",
    "Chuyển đổi số",
    "Thị trường",
    "Chứng khoán",
    "VN-Index",
    "Giá vàng",
    "An sinh xã hội",
    "Xóa nhà tạm",
    "Giao thông",
    "Việc làm",
    "Bóng đá",
    "V-League",
    "Thể thao",
    "Ngoại giao",
    "ASEAN",
    "Liên hợp quốc",
    "Di sản",
    "Lễ hội",
    "Văn hóa",
    "Du lịch",
    "Du lịch cộng đồng",
    "Lừa đảo qua mạng",
    "Cảnh sát kinh tế",
    "Xét xử",
    "Trí tuệ nhân tạo",
    "Khởi nghiệp",
    "Bán dẫn",
    "Ô nhiễm môi trường",
    "Trồng rừng",
    "Xâm nhập mặn",
    "Rác thải",
    "Tuyển sinh",
    "Thi tốt nghiệp",
    "Giáo dục",
    "Sốt xuất huyết",
    "Ghép tạng",
    "Y tế cơ sở",
    "Tiêm chủng",
    "Công nghiệp hỗ trợ",
    "Chuỗi cung ứng",
    "Quảng Ninh",
    "Vịnh Hạ Long",
    "Vân Đồn",
    "Quảng Nam",
    "Hội An",
    "Công nghiệp",
    "Bạn đọc",
]

FAMILY_TAGS = {
    "chinhtri": ["Xây dựng Đảng", "Dân vận", "Bảo vệ Tổ quốc", "Hội nghị", "Tổ chức bộ máy"],
    "kinhte": ["Xuất khẩu", "Đầu tư công", "Doanh nghiệp", "Chuyển đổi số", "Thị trường", "Giá vàng"],
    "chungkhoan": ["Chứng khoán", "VN-Index", "Thị trường"],
    "xahoi": ["An sinh xã hội", "Xóa nhà tạm", "Giao thông", "Việc làm", "Bạn đọc"],
    "thethao": ["Bóng đá", "V-League", "Thể thao"],
    "thegioi": ["Ngoại giao", "ASEAN", "Liên hợp quốc"],
    "vanhoa": ["Di sản", "Lễ hội", "Văn hóa"],
    "dulich": ["Du lịch", "Du lịch cộng đồng", "Di sản"],
    "phapluat": ["Lừa đảo qua mạng", "Cảnh sát kinh tế", "Xét xử"],
    "khcn": ["Trí tuệ nhân tạo", "Khởi nghiệp", "Bán dẫn", "Chuyển đổi số"],
    "moitruong": ["Ô nhiễm môi trường", "Trồng rừng", "Xâm nhập mặn", "Rác thải"],
    "giaoduc": ["Tuyển sinh", "Thi tốt nghiệp", "Giáo dục"],
    "yte": ["Sốt xuất huyết", "Ghép tạng", "Y tế cơ sở", "Tiêm chủng"],
}

# zone id, slug, name, parent zone id, text family
ZONES = [
    (1171, "chinhtri", "Chính trị", None, "chinhtri"),
    (1176, "xa-luan", "Xã luận", 1171, "chinhtri"),
    (1179, "xay-dung-dang", "Xây dựng Đảng", 1171, "chinhtri"),
    (1185, "kinhte", "Kinh tế", None, "kinhte"),
    (1191, "chungkhoan", "Chứng khoán", 1185, "chungkhoan"),
    (1203, "thong-tin-hang-hoa", "Thông tin hàng hóa", 1185, "kinhte"),
    (1211, "xahoi", "Xã hội", None, "xahoi"),
    (1224, "thethao", "Thể thao", None, "thethao"),
    (1231, "thegioi", "Thế giới", None, "thegioi"),
    (1251, "vanhoa", "Văn hóa", None, "vanhoa"),
    (1257, "du-lich", "Du lịch", None, "dulich"),
    (1287, "phapluat", "Pháp luật", None, "phapluat"),
    (1292, "khoahoc-congnghe", "Khoa học - Công nghệ", None, "khcn"),
    (1296, "moi-truong", "Môi trường", None, "moitruong"),
    (1303, "giaoduc", "Giáo dục", None, "giaoduc"),
    (1309, "y-te", "Y tế", None, "yte"),
    (1315, "bandoc", "Bạn đọc", None, "xahoi"),
]

# Topic pages (/chu-de/<slug>-<id>.html): a name and the tag whose articles they list.
TOPICS = [
    (1024, "Công nghiệp hỗ trợ", "Công nghiệp hỗ trợ"),
    (1031, "Chuyển đổi số", "Chuyển đổi số"),
    (1045, "Du lịch Quảng Ninh", "Quảng Ninh"),
    (1052, "Xây dựng Đảng", "Xây dựng Đảng"),
]

EDITOR_IN_CHIEF = "LÊ QUỐC MINH"

# An article's own sentences (crawler.samplesite.model._OwnText): drawn per article from these parts and from
# names it makes up, so unrelated articles share few word runs, as unrelated reports do. No topic words here:
# nothing in them may match the demo topics.
OWN_SYLLABLES = [
    "Bình",
    "Châu",
    "Đông",
    "Giang",
    "Hòa",
    "Khánh",
    "Lạc",
    "Minh",
    "Phú",
    "Sơn",
    "Tân",
    "Thạch",
    "Thịnh",
    "Trung",
    "Tường",
    "Vĩnh",
    "Xuân",
    "Yên",
    "Đức",
    "Hưng",
    "Lâm",
    "Mỹ",
    "Phước",
    "Quý",
    "Thái",
    "Thuận",
    "Tiên",
    "Trà",
    "Vân",
    "Hiệp",
    "Kim",
    "Lộc",
    "Nghĩa",
    "Phong",
    "Tâm",
    "Thủy",
    "Toàn",
    "Uyên",
    "Vạn",
    "Định",
]
OWN_FAMILY_NAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương"]
OWN_PLACE_KINDS = ["xã", "phường", "thị trấn", "thôn", "khu phố", "bản"]
OWN_BODIES = [
    "hợp tác xã",
    "ban quản lý dự án",
    "trung tâm y tế",
    "trường tiểu học",
    "đội thanh niên tình nguyện",
    "hội nông dân",
    "câu lạc bộ dưỡng sinh",
    "tổ hòa giải",
    "nhà văn hóa",
    "chi hội phụ nữ",
    "trạm khuyến nông",
    "đồn biên phòng",
    "ban chỉ huy quân sự",
    "công ty môi trường đô thị",
]
OWN_ACTIONS = [
    "đã lắp đặt",
    "vừa bàn giao",
    "đang sửa chữa",
    "tổ chức tập huấn về",
    "hoàn thành kiểm kê",
    "khởi công xây mới",
    "trao tặng",
    "rà soát lại",
    "phát động phong trào",
    "mở lớp hướng dẫn",
    "kiểm tra định kỳ",
    "cấp phát miễn phí",
    "đưa vào vận hành",
    "thống kê",
]
OWN_THINGS = [
    "giếng khoan",
    "bể lọc nước",
    "cây cầu treo",
    "máy bơm",
    "tủ sách",
    "bếp ăn bán trú",
    "đèn chiếu sáng",
    "giống lúa",
    "đàn bò sinh sản",
    "mái che",
    "sân bóng",
    "con đê bao",
    "kênh mương nội đồng",
    "phòng máy tính",
    "hồ chứa nhỏ",
    "nhà chống lũ",
    "vườn ươm",
]
OWN_WHEN = [
    "từ sáng sớm",
    "trong đợt mưa vừa qua",
    "sau Tết",
    "trước mùa khô",
    "từ tuần trước",
    "cuối quý",
    "đầu vụ gieo cấy",
    "trong kỳ nghỉ hè",
    "vào buổi chiều",
    "suốt mùa lũ",
]
OWN_FRAMES = [
    "{bodies} {place} {action} {count} {thing} {when}.",
    "Ông {person}, người ở {place}, kể rằng {thing} của {hamlet} {action2} {count} lần {when}.",
    "Tại {hamlet}, {count} hộ góp {money} đồng để {action} {thing}.",
    "Theo lời {person}, {bodies} {hamlet} {action} {thing} cho {count} gia đình.",
    "{when2}, {bodies} {place} và {hamlet} cùng {action} {thing}.",
    "Anh {person} ở {hamlet} cho biết {thing} {action2} với kinh phí {money} đồng.",
]
